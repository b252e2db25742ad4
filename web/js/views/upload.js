// Uploading: pick or drop several files; each gets a presigned POST, a progress
// bar, then a live status until docpipe has processed it.

import { api, postFile } from "../api.js";
import { announce, h, replace } from "../dom.js";
import { bytes, isFinal } from "../format.js";
import { poller } from "../poll.js";
import { badge, errorBox } from "../ui.js";

const PARALLEL = 3;
const LIMIT_KEY = "docpipe.max_upload_bytes";

/** The size limit: from /config when the API says it, else as the last upload reported it. */
export function uploadLimit(config) {
  const fromConfig = Number(config.max_upload_bytes);
  if (Number.isInteger(fromConfig) && fromConfig > 0) return fromConfig;
  const remembered = Number(sessionStorage.getItem(LIMIT_KEY));
  return Number.isInteger(remembered) && remembered > 0 ? remembered : null;
}

export function renderUpload(main, { config }) {
  const controllers = new Set();
  const pollers = new Set();
  const queue = [];
  let active = 0;
  let limit = uploadLimit(config);

  const limitText = h("span", { id: "upload-limit" });
  const showLimit = () =>
    replace(limitText, limit ? `Up to ${bytes(limit)} per file.` : "The size limit is checked when each upload starts.");
  showLimit();

  const input = h("input", { id: "file-input", type: "file", multiple: true, class: "visually-hidden", "aria-describedby": "upload-limit" });
  const zone = h(
    "div",
    { class: "dropzone", id: "dropzone" },
    h("p", { class: "dropzone-title" }, "Drop files here"),
    h("p", {}, "or ", h("label", { for: "file-input", class: "button" }, "Choose files"), input),
    h("p", { class: "muted" }, limitText, " docpipe detects each file's real type from its content."),
  );
  const list = h("ul", { class: "uploads", "aria-label": "Uploads" });

  replace(main, h("div", { class: "page-head" }, h("h1", {}, "Upload")), zone, list);

  input.addEventListener("change", () => {
    add([...input.files]);
    input.value = "";
  });
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    zone.addEventListener(type, () => zone.classList.remove("dragging"));
  }
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    add([...(event.dataTransfer ? event.dataTransfer.files : [])]);
  });

  function add(files) {
    const items = files.map((file) => [file, uploadItem(file)]);
    list.prepend(...items.map(([, item]) => item.el)); // newest batch first, each batch in the order chosen
    for (const [file, item] of items) {
      const problem = refuse(file);
      if (problem) {
        item.fail(problem);
        continue;
      }
      queue.push(() => send(file, item));
    }
    pump();
  }

  function refuse(file) {
    if (file.size === 0) return "This file is empty.";
    if (limit && file.size > limit) return `This file is ${bytes(file.size)}, over the ${bytes(limit)} limit.`;
    if (file.name.length > 255) return "The file name is longer than 255 characters.";
    return null;
  }

  function pump() {
    while (active < PARALLEL && queue.length) {
      active += 1;
      queue
        .shift()()
        .finally(() => {
          active -= 1;
          pump();
        });
    }
  }

  async function send(file, item) {
    const controller = new AbortController();
    controllers.add(controller);
    try {
      item.step("Preparing…");
      const created = await api.createUpload(file);
      if (Number.isInteger(created.max_bytes)) {
        sessionStorage.setItem(LIMIT_KEY, String(created.max_bytes));
        if (limit !== created.max_bytes) {
          limit = created.max_bytes;
          showLimit();
        }
      }
      item.link(created.document.id);
      item.step("Uploading…");
      try {
        await postFile(created.upload, file, (sent, total) => item.progress(sent, total), controller.signal);
      } catch (error) {
        // Nothing reached storage: remove the empty document rather than leave it pending for ever.
        await api.remove(created.document.id).catch(() => null);
        item.unlink();
        throw error;
      }
      item.progress(file.size, file.size);
      item.step("Waiting for processing…");
      announce(`${file.name} uploaded`);
      follow(created.document.id, item);
    } catch (error) {
      item.fail(error.message);
    } finally {
      controllers.delete(controller);
    }
  }

  function follow(id, item) {
    const watch = poller(
      async () => {
        const doc = await api.document(id);
        item.status(doc);
        if (isFinal(doc.status)) {
          announce(`${doc.filename} is ${doc.status.toLowerCase()}`);
          pollers.delete(watch);
        }
        return { again: !isFinal(doc.status), changed: false };
      },
      { min: 800, max: 8000 },
    );
    pollers.add(watch);
    watch.now();
  }

  return () => {
    for (const controller of controllers) controller.abort();
    for (const watch of pollers) watch.stop();
  };
}

function uploadItem(file) {
  const bar = h("progress", { max: 100, value: 0, "aria-label": `Upload progress of ${file.name}` });
  const stepText = h("span", { class: "upload-step" }, "Queued");
  const state = h("span", { class: "upload-state" });
  const name = h("span", { class: "upload-name" }, file.name);
  const el = h(
    "li",
    { class: "upload" },
    h("div", { class: "upload-head" }, name, h("span", { class: "muted" }, bytes(file.size))),
    bar,
    h("div", { class: "upload-foot" }, stepText, state),
  );
  return {
    el,
    step(text) {
      replace(stepText, text);
    },
    progress(sent, total) {
      bar.value = total ? Math.round((sent / total) * 100) : 0;
      replace(stepText, `Uploading… ${bar.value}%`);
    },
    unlink() {
      replace(name, file.name);
      delete el.dataset.id;
    },
    link(id) {
      replace(name, h("a", { href: `#/documents/${id}` }, file.name));
      el.dataset.id = id;
    },
    status(doc) {
      // the file is in storage: until processing starts, "waiting" (not the API's "pending upload")
      replace(state, doc.status === "PENDING" ? h("span", { class: "badge badge-pending", dataset: { status: "UPLOADED" } }, "Uploaded") : badge(doc.status));
      if (doc.status === "PENDING") replace(stepText, "Waiting for processing…");
      else if (doc.status === "PROCESSING") replace(stepText, "Processing…");
      else if (doc.status === "PROCESSED") replace(stepText, "Done");
      else if (doc.status === "FAILED") replace(stepText, doc.error ? doc.error.message : "Processing failed");
    },
    fail(message) {
      el.classList.add("upload-failed");
      bar.value = 0;
      replace(stepText, errorBox(message));
    },
  };
}
