/** The shape of one generation step: the tokens it feeds and the cached positions before them. */
export interface StepShape {
  readonly sequence: number;
  readonly past: number;
}
