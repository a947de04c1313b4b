/**
 * Thrown for input the gallery refuses; nothing has been written when it is thrown.
 * Callers map it by class (`instanceof`), never by its name string.
 */
export class GalleryInputError extends Error {
  override readonly name = 'GalleryInputError';
}

/** The database file was written by a newer facegate (its schema version is higher than ours). */
export class GallerySchemaError extends Error {
  override readonly name = 'GallerySchemaError';
}
