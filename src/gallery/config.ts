/** convict schema slice for `gallery` (owned by src/gallery). */
export const gallerySchema = {
  path: {
    doc: 'SQLite database of people, embeddings, face crops, nonces, the event outbox and the audit log.',
    format: String,
    default: '.state/facegate.db',
    env: 'FACEGATE_GALLERY_PATH',
  },
} as const;
