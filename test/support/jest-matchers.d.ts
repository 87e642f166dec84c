// @types/jest types the asymmetric matchers (expect.any, expect.objectContaining, …) as `any` so that
// they fit any slot; but `any` switches type checking off wherever it flows (and ESLint's no-unsafe-*
// rules then report every use). Here they return `unknown`: it fits every slot jest's matchers take
// (toEqual, toMatchObject, toHaveBeenCalledWith, rejects…), and toThrow takes one to match the
// thrown error's properties, as jest allows.
export {};

declare global {
  namespace jest {
    interface Expect {
      anything(): unknown;
      any(classType: unknown): unknown;
      arrayContaining<E = unknown>(arr: readonly E[]): unknown;
      objectContaining<E = object>(obj: E): unknown;
      stringMatching(str: string | RegExp): unknown;
      stringContaining(str: string): unknown;
      closeTo(num: number, numDigits?: number): unknown;
    }
    interface InverseAsymmetricMatchers {
      arrayContaining<E = unknown>(arr: readonly E[]): unknown;
      objectContaining<E = object>(obj: E): unknown;
      stringMatching(str: string | RegExp): unknown;
      stringContaining(str: string): unknown;
    }
    // eslint-disable-next-line @typescript-eslint/no-unused-vars, @typescript-eslint/no-empty-object-type -- the type parameters must be those of @types/jest to merge
    interface Matchers<R, T = {}> {
      toThrow(error: unknown): R;
    }
  }
}
