/** A page of a listing: skip `first` items, return at most `max`. */
export interface Page {
  readonly first: number;
  readonly max: number;
}
