import { Chart, Legend, LogarithmicScale, PointElement, ScatterController, Tooltip, type ChartDataset } from "chart.js";
import { useEffect, useRef, useState } from "preact/hooks";
import { ModelStatus, type Model } from "../../../gen/modelservice/v1/model_pb.js";
import { errorText } from "../error-text.js";
import { dollars, dollarValue } from "../format.js";
import { modelService } from "../service-client.js";

// Only the parts of Chart.js a scatter on log axes needs, so the rest stays out of the bundle.
Chart.register(ScatterController, PointElement, LogarithmicScale, Tooltip, Legend);

/** One colour per provider, told apart also by point shape for readers who do not see colour well. */
const palette = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7c86", "#57606a", "#fb8500", "#3a5a40"];
const shapes = ["circle", "triangle", "rect", "rectRot", "star", "crossRot", "rectRounded", "cross", "circle", "triangle"] as const;

interface Point {
  x: number;
  y: number;
  name: string;
  input: string;
  output: string;
}

/** Every enabled model of the workspace, following nextCursor (a workspace has hundreds, not millions). */
async function enabledModels(): Promise<Model[]> {
  const models: Model[] = [];
  let cursor = "";
  do {
    const page = await modelService.listModels({ status: ModelStatus.ENABLED, limit: 1000, cursor });
    models.push(...page.items);
    cursor = page.pagination?.nextCursor ?? "";
  } while (cursor !== "");
  return models;
}

function datasets(models: Model[]): { sets: ChartDataset<"scatter", Point[]>[]; plotted: number; unpriced: number } {
  const byProvider = new Map<string, Point[]>();
  let unpriced = 0;
  for (const m of models) {
    const s = m.spec;
    const x = dollarValue(s?.inputPricePerMillionTokensUsd, s?.inputPricePerMillionTokens);
    const y = dollarValue(s?.outputPricePerMillionTokensUsd, s?.outputPricePerMillionTokens);
    // A log axis has no place for zero: free and unpriced models are counted, not drawn.
    if (x === undefined || y === undefined || x <= 0 || y <= 0) {
      unpriced++;
      continue;
    }
    const provider = s?.provider || "other";
    const point = {
      x,
      y,
      name: m.metadata?.name ?? "",
      input: dollars(s?.inputPricePerMillionTokensUsd, s?.inputPricePerMillionTokens),
      output: dollars(s?.outputPricePerMillionTokensUsd, s?.outputPricePerMillionTokens),
    };
    byProvider.set(provider, [...(byProvider.get(provider) ?? []), point]);
  }
  const sets = [...byProvider.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([provider, data], i) => ({
      label: provider,
      data,
      backgroundColor: palette[i % palette.length],
      borderColor: palette[i % palette.length],
      pointStyle: shapes[i % shapes.length],
      pointRadius: 5,
      pointHoverRadius: 7,
    }));
  return { sets, plotted: models.length - unpriced, unpriced };
}

/** Log axis from the power of ten below the cheapest to the one above the dearest, labelled at 1, 2 and 5 of each decade. */
function axis(title: string, values: number[]) {
  const low = values.length === 0 ? 0.01 : 10 ** Math.floor(Math.log10(Math.min(...values)));
  const high = values.length === 0 ? 100 : 10 ** Math.ceil(Math.log10(Math.max(...values)));
  return {
    type: "logarithmic" as const,
    min: low,
    max: high,
    title: { display: true, text: title },
    ticks: {
      autoSkip: false,
      callback: (value: string | number) => {
        const v = Number(value);
        const mantissa = v / 10 ** Math.floor(Math.log10(v) + 1e-9);
        const lead = Math.round(mantissa);
        return Math.abs(mantissa - lead) < 1e-6 && (lead === 1 || lead === 2 || lead === 5) ? `$${Number(v.toPrecision(1))}` : "";
      },
    },
  };
}

/** Input against output price per million tokens of the enabled models: cheap models sit bottom left. */
export function PriceChart({ version }: { version: number }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart<"scatter", Point[]>>(undefined);
  const [summary, setSummary] = useState<string>();
  const [error, setError] = useState<string>();

  useEffect(() => () => chart.current?.destroy(), []);

  useEffect(() => {
    let current = true;
    enabledModels().then(
      (models) => {
        if (!current || !canvas.current) return;
        const { sets, plotted, unpriced } = datasets(models);
        setError(undefined);
        setSummary(
          `${plotted} enabled model${plotted === 1 ? "" : "s"} plotted` + (unpriced > 0 ? `; ${unpriced} without a price above $0 not shown` : ""),
        );
        const points = sets.flatMap((set) => set.data);
        const scales = {
          x: axis("Input $ per million tokens", points.map((p) => p.x)),
          y: axis("Output $ per million tokens", points.map((p) => p.y)),
        };
        if (chart.current) {
          chart.current.data.datasets = sets;
          chart.current.options.scales = scales;
          chart.current.update();
          return;
        }
        chart.current = new Chart<"scatter", Point[]>(canvas.current, {
          type: "scatter",
          data: { datasets: sets },
          options: {
            responsive: true,
            maintainAspectRatio: false,
            animation: false,
            scales,
            plugins: {
              legend: { position: "bottom", labels: { usePointStyle: true } },
              tooltip: {
                callbacks: { label: (item) => `${(item.raw as Point).name}: input ${(item.raw as Point).input}, output ${(item.raw as Point).output}` },
              },
            },
          },
        });
      },
      (e: unknown) => current && setError(errorText(e).message),
    );
    return () => {
      current = false;
    };
  }, [version]);

  return (
    <section class="panel" aria-labelledby="chart-title">
      <h2 id="chart-title">Price comparison</h2>
      <figure class="chart">
        <div class="chart-box">
          <canvas ref={canvas} role="img" aria-label={`Scatter chart of input against output price per million tokens. ${summary ?? ""}`} />
        </div>
        <figcaption>
          Input (across) against output (up) price in dollars per million tokens, both on log scales; one point per enabled model.
          {summary && ` ${summary}.`}
        </figcaption>
      </figure>
      {error && (
        <p class="alert" role="alert">
          Could not load the prices. {error}
        </p>
      )}
    </section>
  );
}
