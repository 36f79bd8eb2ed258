import type { Interceptor } from "@connectrpc/connect";
import { validateRequest } from "../../domain/validation/request-validation.js";

/** Refuses bad input before any handler runs: InvalidArgument with field violations. */
export const validationInterceptor: Interceptor = (next) => async (req) => {
  if (!req.stream) validateRequest(req.method.input, req.message);
  return next(req);
};
