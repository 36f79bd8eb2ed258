import type { AnyDesc, DescFile } from "@bufbuild/protobuf";
import { nestedTypes } from "@bufbuild/protobuf/reflect";
import { createEcmaScriptPlugin, getComments, runNodeJs } from "@bufbuild/protoplugin";

/**
 * A protoc plugin that keeps the proto comments of our own files. Generated
 * descriptors drop source info, yet the OpenAPI document and the CLI help are
 * written from these comments, so the proto stays their one source.
 */
function fullName(desc: Exclude<AnyDesc, DescFile>): string {
  switch (desc.kind) {
    case "field":
      return `${desc.parent.typeName}.${desc.name}`;
    case "rpc":
      return `${desc.parent.typeName}.${desc.name}`;
    case "enum_value":
      return `${desc.parent.typeName}.${desc.name}`;
    case "oneof":
      return `${desc.parent.typeName}.${desc.name}`;
    default:
      return desc.typeName;
  }
}

function commentsOf(file: DescFile): Record<string, string> {
  const out: Record<string, string> = {};
  const add = (desc: Exclude<AnyDesc, DescFile>) => {
    const text = getComments(desc).leading?.trim();
    if (text) out[fullName(desc)] = text.replace(/\n /g, "\n");
  };
  for (const type of nestedTypes(file)) {
    add(type);
    if (type.kind === "message") type.fields.forEach(add);
    if (type.kind === "enum") type.values.forEach(add);
    if (type.kind === "service") type.methods.forEach(add);
  }
  return out;
}

const plugin = createEcmaScriptPlugin({
  name: "protoc-gen-comments",
  version: "v1",
  generateTs(schema) {
    for (const file of schema.files) {
      if (!file.proto.package.startsWith("modelservice.")) continue;
      const f = schema.generateFile(file.name + "_comments.ts");
      f.preamble(file);
      f.print("/** Leading comments of ", file.proto.name, " by fully-qualified name. */");
      f.print("export const comments: Readonly<Record<string, string>> = ", JSON.stringify(commentsOf(file), null, 2), ";");
    }
  },
});

runNodeJs(plugin);
