/** Photo format sniffing, kept apart from sharp so the admin tool can check files without loading libvips. */

const JPEG_MAGIC = [0xff, 0xd8, 0xff];
const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export type PhotoFormat = 'jpeg' | 'png';

/** JPEG or PNG by magic bytes; anything else is refused before a decoder sees it. */
export function sniffPhotoFormat(bytes: Uint8Array): PhotoFormat | null {
  const starts = (magic: number[]): boolean =>
    bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
  if (starts(JPEG_MAGIC)) return 'jpeg';
  if (starts(PNG_MAGIC)) return 'png';
  return null;
}
