// Uploads on a collection's page: files chosen or dropped on the form go up one request each,
// with a progress bar for the bytes sent; the server answers the new table rows, whose status
// cells then follow the ingest live (htmx's SSE extension). Without this script the form posts
// every file at once and the page comes back.
"use strict";

(() => {
  const form = document.getElementById("upload-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) return;
  const input = document.getElementById("upload-files");
  const queue = document.getElementById("upload-queue");
  const rows = document.getElementById("documents-body");

  const item = (file) => {
    const entry = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = `${file.name} `;
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", `Upload of ${file.name}`);
    const state = document.createElement("small");
    state.className = "upload-state";
    state.textContent = " waiting";
    entry.append(name, bar, state);
    queue.append(entry);
    return { entry, bar, state };
  };

  const added = (html) => {
    const holder = document.createElement("tbody");
    holder.innerHTML = html;  // rendered and escaped by the server's templates
    const fresh = Array.from(holder.children);
    for (const row of fresh.reverse()) rows.prepend(row);
    if (window.htmx) for (const row of fresh) window.htmx.process(row);
    return fresh.some((row) => row.classList.contains("upload-error"));
  };

  const send = (file) => new Promise((resolve) => {
    const shown = item(file);
    const body = new FormData();
    body.append("files", file, file.name);
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("X-CSRF-Token", form.dataset.csrf);
    request.setRequestHeader("HX-Request", "true");
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) shown.bar.value = Math.round((100 * event.loaded) / event.total);
      shown.state.textContent = " uploading";
    });
    request.addEventListener("load", () => {
      const type = request.getResponseHeader("content-type") || "";
      if (request.responseURL.endsWith("/dashboard/login")) {
        window.location.assign("/dashboard/login");
        return;
      }
      shown.bar.value = 100;
      const refused = type.startsWith("text/html") ? added(request.responseText) : true;
      shown.state.textContent = refused || request.status >= 400 ? " refused" : " uploaded";
      shown.entry.dataset.state = refused ? "refused" : "uploaded";
      resolve();
    });
    request.addEventListener("error", () => {
      shown.state.textContent = " failed: the connection broke";
      shown.entry.dataset.state = "failed";
      resolve();
    });
    request.send(body);
  });

  const upload = async (files) => {
    for (const file of Array.from(files)) await send(file);  // one at a time, in order
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (input.files.length) upload(input.files).then(() => { input.value = ""; });
  });
  form.addEventListener("dragover", (event) => {
    event.preventDefault();
    form.classList.add("dragging");
  });
  form.addEventListener("dragleave", () => form.classList.remove("dragging"));
  form.addEventListener("drop", (event) => {
    event.preventDefault();
    form.classList.remove("dragging");
    if (event.dataTransfer && event.dataTransfer.files.length) upload(event.dataTransfer.files);
  });
})();
