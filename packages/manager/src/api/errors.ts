/**
 * API errors in the Cloudify REST shape: `{message, error_code, server_traceback: null}` with the
 * HTTP status that goes with each code. Handlers throw these; the server turns them into answers.
 */

export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const badParameters = (message: string) => new ApiError(400, 'bad_parameters_error', message);
export const unauthorized = (message: string) => new ApiError(401, 'unauthorized_error', message);
export const forbidden = (message: string) => new ApiError(403, 'forbidden_error', message);
export const notFound = (message: string) => new ApiError(404, 'not_found_error', message);
export const conflict = (message: string) => new ApiError(409, 'conflict_error', message);
export const unavailable = (message: string) => new ApiError(503, 'service_unavailable_error', message);

export interface ErrorBody {
  message: string;
  error_code: string;
  server_traceback: null;
}

export function errorBody(code: string, message: string): ErrorBody {
  return { message, error_code: code, server_traceback: null };
}

export const invalidBlueprint = (message: string) => new ApiError(400, 'invalid_blueprint_error', message);
export const invalidBlueprintArchive = (message: string) =>
  new ApiError(400, 'invalid_blueprint_archive_error', message);
