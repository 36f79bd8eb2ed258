/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha) on a Connect router.
 *
 * @grpc/reflection only plugs into @grpc/grpc-js, so this answers the bidi
 * stream itself from the descriptors protoc-gen-es embeds in generated code.
 * Behaviour follows grpc-go's reference server, which is what grpcurl and
 * `buf curl` are tested against.
 */
import { Code, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { create, toBinary, type DescFile } from "@bufbuild/protobuf";
import { nestedTypes } from "@bufbuild/protobuf/reflect";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as v1 from "../../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../../gen/grpc/reflection/v1alpha/reflection_pb.js";

/**
 * Registers grpc.reflection.v1.ServerReflection and its v1alpha predecessor
 * (older grpcurl and `buf curl --reflect-protocol grpc-v1alpha` still speak
 * it), describing `files` and everything they import.
 */
export function registerServerReflection(router: ConnectRouter, files: readonly DescFile[], interceptors: Interceptor[]): void {
  const index = buildIndex(files);
  serveReflection(router, v1.ServerReflection, index, interceptors);
  serveReflection(router, v1alpha.ServerReflection, index, interceptors);
}

/** Lookup tables built once at registration; every request is a map lookup. */
interface ReflectionIndex {
  /** Fully-qualified names of all services, sorted, for list_services. */
  readonly services: readonly string[];
  /** Every file by its path, e.g. "google/protobuf/timestamp.proto". */
  readonly files: ReadonlyMap<string, DescFile>;
  /** Every fully-qualified declaration name → the file declaring it. */
  readonly symbols: ReadonlyMap<string, DescFile>;
  /**
   * Every message → its extensions by field number → the file declaring the
   * extension. Messages without extensions have an empty entry, so that
   * all_extension_numbers_of_type can tell "no extensions" from "no such type".
   */
  readonly extensions: ReadonlyMap<string, ReadonlyMap<number, DescFile>>;
}

function buildIndex(roots: readonly DescFile[]): ReflectionIndex {
  const files = new Map<string, DescFile>();
  roots.forEach((file) => addWithImports(file, files));
  const services: string[] = [];
  const symbols = new Map<string, DescFile>();
  const extensions = new Map<string, Map<number, DescFile>>();
  const extensionsOf = (typeName: string) =>
    extensions.get(typeName) ?? extensions.set(typeName, new Map()).get(typeName)!;
  for (const file of files.values()) {
    for (const type of nestedTypes(file)) {
      if (type.kind === "service") services.push(type.typeName);
      if (type.kind === "message") extensionsOf(type.typeName);
      if (type.kind === "extension") extensionsOf(type.extendee.typeName).set(type.number, file);
    }
    for (const name of declaredNames(file)) symbols.set(name, file);
  }
  return { services: services.sort(), files, symbols, extensions };
}

/** Collects a file and its transitive imports (well-known types included). */
function addWithImports(file: DescFile, into: Map<string, DescFile>): void {
  if (into.has(file.proto.name)) return;
  into.set(file.proto.name, file);
  file.dependencies.forEach((dep) => addWithImports(dep, into));
}

/** Every name a client may pass to file_containing_symbol, as protoc scopes them. */
function* declaredNames(file: DescFile): Iterable<string> {
  for (const type of nestedTypes(file)) {
    yield type.typeName;
    switch (type.kind) {
      case "service":
        for (const method of type.methods) yield `${type.typeName}.${method.name}`;
        break;
      case "message":
        for (const field of type.fields) {
          yield `${type.typeName}.${field.name}`;
          // Map entry messages are synthetic and absent from nestedMessages,
          // but they are real messages to protoc and to grpc-go.
          if (field.fieldKind === "map") yield field.proto.typeName.replace(/^\./, "");
        }
        for (const oneof of type.oneofs) yield `${type.typeName}.${oneof.name}`;
        break;
      case "enum": {
        // Enum values are C++-scoped: siblings of their enum, not children
        // (modelservice.v1.MODEL_STATUS_ENABLED, not ...ModelStatus.MODEL_STATUS_ENABLED).
        const scope = type.typeName.slice(0, type.typeName.lastIndexOf(".") + 1);
        for (const value of type.values) yield scope + value.name;
        break;
      }
    }
  }
}

type ReflectionService = typeof v1.ServerReflection | typeof v1alpha.ServerReflection;
type MessageRequest = (v1.ServerReflectionRequest | v1alpha.ServerReflectionRequest)["messageRequest"];

/**
 * The response oneof, version-neutral: the two versions' messages have the
 * same shape, so this initializes either one.
 */
type MessageResponse =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

/** One handler for both versions: only the schemas differ. */
function serveReflection(router: ConnectRouter, service: ReflectionService, index: ReflectionIndex, interceptors: Interceptor[]): void {
  // The two versions' method types do not unite into one MethodImpl, so the
  // handler is typed against v1; at run time it only reads and creates
  // messages of the given version, whose shapes are identical.
  const method = service.method.serverReflectionInfo as typeof v1.ServerReflection.method.serverReflectionInfo;
  router.rpc(method, async function* (requests) {
    // Files already sent on this stream; the client keeps them, so imports are not resent.
    const sent = new Set<string>();
    for await (const request of requests) {
      yield create(method.output, {
        validHost: request.host,
        originalRequest: request,
        messageResponse: answer(index, request.messageRequest, sent),
      });
    }
  }, { interceptors });
}

function answer(index: ReflectionIndex, request: MessageRequest, sent: Set<string>): MessageResponse {
  switch (request.case) {
    case "listServices":
      return { case: "listServicesResponse", value: { service: index.services.map((name) => ({ name })) } };
    case "fileByFilename":
      return fileResponse(index.files.get(request.value), sent, `file "${request.value}"`);
    case "fileContainingSymbol":
      return fileResponse(index.symbols.get(request.value), sent, `symbol "${request.value}"`);
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = request.value;
      const file = index.extensions.get(containingType)?.get(extensionNumber);
      return fileResponse(file, sent, `extension ${extensionNumber} of "${containingType}"`);
    }
    case "allExtensionNumbersOfType": {
      const numbers = index.extensions.get(request.value);
      if (!numbers) return errorResponse(Code.NotFound, `message type "${request.value}" not found`);
      return {
        case: "allExtensionNumbersResponse",
        value: { baseTypeName: request.value, extensionNumber: [...numbers.keys()] },
      };
    }
    case undefined:
      // grpc-go ends the stream here; an error_response keeps it usable.
      return errorResponse(Code.InvalidArgument, "empty message_request");
  }
}

function fileResponse(file: DescFile | undefined, sent: Set<string>, what: string): MessageResponse {
  if (!file) return errorResponse(Code.NotFound, `${what} not found`);
  const fileDescriptorProto = withUnsentImports(file, sent).map((f) => toBinary(FileDescriptorProtoSchema, f.proto));
  return { case: "fileDescriptorResponse", value: { fileDescriptorProto } };
}

/**
 * The file itself (always, even if sent before), then those of its transitive
 * imports not yet sent on this stream, as grpc-go does: a client cannot build
 * a file's descriptor without all of its imports.
 */
function withUnsentImports(file: DescFile, sent: Set<string>): DescFile[] {
  const out = [file];
  sent.add(file.proto.name);
  // A sent file's imports were sent with it, so the walk stops at sent files.
  for (const current of out) {
    for (const dep of current.dependencies) {
      if (sent.has(dep.proto.name)) continue;
      sent.add(dep.proto.name);
      out.push(dep);
    }
  }
  return out;
}

/** Connect's Code values are gRPC's status codes (NOT_FOUND = 5). */
function errorResponse(code: Code, message: string): MessageResponse {
  return { case: "errorResponse", value: { errorCode: code, errorMessage: message } };
}
