import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { ModelService } from "../../gen/modelservice/v1/model_service_pb.js";
import { tokenProblem } from "./token-problem.js";
import { ownWritesInterceptor } from "./own-writes.js";
import { session } from "./session.js";

/**
 * Where the service is: the origin that served the page, unless the page is
 * hosted elsewhere and names the service in
 * `<meta name="modelservice-url" content="https://models.example">` (the
 * service must then allow that origin: MODELSERVICE_CORS_ORIGINS).
 */
export function serviceUrl(): string {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="modelservice-url"]');
  return meta?.content || location.origin;
}

/** Sends the session's token; an Unauthenticated answer to any call asks for a new token, saying why, and keeps the page. */
const bearer: Interceptor = (next) => async (req) => {
  const token = session.get().token;
  if (token) req.header.set("authorization", `Bearer ${token}`);
  try {
    return await next(req);
  } catch (e) {
    const error = ConnectError.from(e);
    if (error.code === Code.Unauthenticated && session.get().token === token) {
      session.expire(`${tokenProblem(error.rawMessage)} Sign in again with a new token: this page keeps what you typed.`);
    }
    throw e;
  }
};

/** The generated ModelService client over Connect JSON, as any browser client of the service would use it. */
export const modelService: Client<typeof ModelService> = createClient(
  ModelService,
  createConnectTransport({ baseUrl: serviceUrl(), interceptors: [bearer, ownWritesInterceptor] }),
);
