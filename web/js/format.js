// Turning API values into words and numbers people read.

const UNITS = ["bytes", "KiB", "MiB", "GiB", "TiB"];

export function bytes(n) {
  if (typeof n !== "number" || !Number.isFinite(n)) return "—";
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

export function count(n) {
  return typeof n === "number" ? n.toLocaleString() : "—";
}

/** An ISO 8601 timestamp in the reader's locale; the original stays in a <time datetime>. */
export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

const ACRONYMS = new Set(["id", "url", "uri", "gps", "exif", "xmp", "iptc", "iso", "pdf", "csv", "tsv", "html", "xml", "json", "mime", "cpu", "api", "utc", "dpi", "icc", "rgb", "cmyk", "ocr", "sha256", "md5", "crc32"]);
const SPECIAL = { mime_type: "MIME type", sha256: "SHA-256", duplicate_of: "Duplicate of", s3_key: "S3 key" };

/** "camera_make" -> "Camera make", "gps_latitude" -> "GPS latitude", "processingStarted" -> "Processing started". */
export function label(key) {
  if (SPECIAL[key]) return SPECIAL[key];
  const words = String(key)
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .split(/[_\s-]+/)
    .filter(Boolean)
    .map((w) => (ACRONYMS.has(w.toLowerCase()) ? w.toUpperCase() : w.toLowerCase()));
  const text = words.join(" ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Any JSON value as short text (objects and arrays as compact JSON). */
export function value(v) {
  if (v === null || v === undefined) return "—";
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v === "number") return v.toLocaleString(undefined, { maximumFractionDigits: 6 });
  if (typeof v === "string") return v;
  if (Array.isArray(v) && v.every((x) => typeof x !== "object" || x === null)) return v.map(value).join(", ");
  return JSON.stringify(v);
}

export const STATUSES = ["PENDING", "PROCESSING", "PROCESSED", "FAILED"];

export function isFinal(status) {
  return status === "PROCESSED" || status === "FAILED";
}

export const RECORD_FINAL = ["COMPLETE", "COMPLETE_WITH_ERRORS", "FAILED"];
