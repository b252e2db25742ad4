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

/** "camera_make" -> "Camera make"; keeps well-known acronyms readable. */
export function label(key) {
  const special = { mime_type: "MIME type", sha256: "SHA-256", gps_latitude: "GPS latitude", gps_longitude: "GPS longitude" };
  if (special[key]) return special[key];
  const words = String(key).replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
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
