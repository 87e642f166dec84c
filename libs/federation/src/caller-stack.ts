/**
 * Starts a grpc-js call with no stack captured. grpc-js makes an Error at every call start only to
 * append its stack to a failed call's error; under our chain of awaits V8 also walks the async
 * frames, which was ≈ 2 % of the asker's CPU per verification (docs/performance.md, the asker's
 * path). mapError reads the code, details and metadata of a failure, never its stack.
 */
export function withoutCallerStack<T>(start: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return start();
  } finally {
    Error.stackTraceLimit = limit;
  }
}
