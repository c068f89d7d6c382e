// Decode errors are values, not exceptions: the transport closes, logs and counts.

export type DecodeErrorCode =
  | "unknown_command"
  | "line_too_long"
  | "bad_argument"
  | "empty_datagram"
  | "bad_datagram";

export interface DecodeError {
  code: DecodeErrorCode;
  message: string;
}

export function decodeError(code: DecodeErrorCode, message: string): DecodeError {
  return { code, message };
}
