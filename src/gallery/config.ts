/** convict schema slice for `gallery` (owned by src/gallery). */
export const gallerySchema = {
  path: {
    doc: 'SQLite database of people, embeddings, face crops, nonces, the event outbox and the audit log.',
    format: String,
    default: '.state/facegate.db',
    env: 'FACEGATE_GALLERY_PATH',
  },
  bootstrapDir: {
    doc: 'Folder of person folders (folder name = person id, images inside) imported at start-up when the gallery is EMPTY, so a demo recognises someone; empty string = off.',
    format: String,
    default: '',
    env: 'FACEGATE_GALLERY_BOOTSTRAP_DIR',
  },
} as const;

/** The typed `gallery` slice. */
export interface GalleryConfig {
  readonly path: string;
  readonly bootstrapDir: string;
}
