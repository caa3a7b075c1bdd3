// The dashboard's only script of its own (the CSP allows no inline script).
"use strict";

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  if (!field) return;
  const done = () => { button.textContent = "Copied"; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(done, () => {});
  } else {
    field.select();
    if (document.execCommand("copy")) done();
  }
});

// The live overview's stream sends "expired" when the session ends: go to the sign-in page.
// (The SSE extension only reports events named by an sse-swap, so listen on the source.)
document.addEventListener("htmx:sseOpen", (event) => {
  const source = event.detail && event.detail.source;
  if (!source || source.enclavaExpiry) return;
  source.enclavaExpiry = true;
  source.addEventListener("expired", () => {
    source.close();
    window.location.assign("/dashboard/login");
  });
});
