import type { Interceptor } from "@connectrpc/connect";
import { validateRequest } from "../../domain/validation/request-validation.js";
import { withRequestMessage } from "./request-message.js";

/** Refuses bad input before any handler runs: InvalidArgument with field violations. */
export const validationInterceptor: Interceptor = (next) => async (req) =>
  next(await withRequestMessage(req, (message) => validateRequest(req.method.input, message)));
