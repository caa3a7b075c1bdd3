// The chatbot playground: sends the form asking for SSE and shows the answer as it streams,
// then its sources; keeps the conversation id in the form and the address. Text only goes
// through textContent (never markup). Without this script the form posts and the page reloads.
"use strict";

(() => {
  const form = document.getElementById("chat-form");
  if (!form || !window.fetch || !window.TextDecoder || !window.ReadableStream) return;
  const list = document.getElementById("messages");
  const failure = document.getElementById("chat-error");
  const status = document.getElementById("chat-status");
  const send = document.getElementById("chat-send");
  const field = form.elements.message;
  const conversation = form.elements.conversation_id;

  const element = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };

  const message = (role, text) => {
    const article = element("article", `msg ${role}`);
    article.append(element("header", "", role === "user" ? "You" : "Assistant"));
    const content = element("div", "content", text);
    article.append(content);
    list.append(article);
    return { article, content };
  };

  const sources = (article, found) => {
    if (!Array.isArray(found) || !found.length) return;
    const details = element("details", "sources");
    details.append(element("summary", "", `Sources (${found.length})`));
    const items = element("ol");
    for (const source of found) {
      const item = element("li");
      item.append(element("strong", "", String(source.document_name)));
      const where = ` passage ${source.position}${source.page ? `, page ${source.page}` : ""}`;
      item.append(element("small", "", `${where} · score ${Number(source.score).toFixed(3)}`));
      item.append(element("br"));
      item.append(element("span", "excerpt", String(source.text)));
      items.append(item);
    }
    details.append(items);
    article.append(details);
  };

  const showError = (text) => {
    failure.textContent = text;
    failure.hidden = false;
  };

  const keep = (id) => {
    if (!id || conversation.value === id) return;
    conversation.value = id;
    const url = new URL(window.location.href);
    url.searchParams.set("conversation", id);
    window.history.replaceState(null, "", url);
  };

  // One SSE event's data: a chat chunk, the sources chunk, an error, or [DONE].
  const handle = (data, answer) => {
    if (data === "[DONE]") return;
    let chunk;
    try { chunk = JSON.parse(data); } catch { return; }
    if (chunk.error) showError(String(chunk.error.message || "The answer failed."));
    const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
    if (delta && typeof delta.content === "string") answer.content.textContent += delta.content;
    if (chunk.conversation_id) keep(String(chunk.conversation_id));
    if (chunk.sources) sources(answer.article, chunk.sources);
  };

  const read = async (body, answer) => {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
      const events = buffer.split(/\r?\n\r?\n/);
      buffer = done ? "" : events.pop();
      for (const event of events) {
        const data = event.split(/\r?\n/).filter((l) => l.startsWith("data:"))
          .map((l) => l.slice(5).trimStart()).join("\n");
        if (data) handle(data, answer);
      }
      if (done) return;
    }
  };

  const refused = async (response) => {
    const type = response.headers.get("content-type") || "";
    if (!type.includes("json")) {  // a session that ended comes back as the sign-in page
      window.location.assign("/dashboard/login");
      return;
    }
    const body = await response.json().catch(() => null);
    showError(String((body && body.error && body.error.message) || `The request failed (${response.status}).`));
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = field.value.trim();
    if (!text) return;
    const body = new URLSearchParams(new FormData(form));
    failure.hidden = true;
    message("user", text);
    const answer = message("assistant", "");
    field.value = "";
    send.disabled = true;
    send.setAttribute("aria-busy", "true");
    status.textContent = "Answering…";
    try {
      const response = await fetch(form.action, {
        method: "POST", body, credentials: "same-origin",
        headers: { Accept: "text/event-stream" },
      });
      const type = response.headers.get("content-type") || "";
      if (response.ok && type.startsWith("text/event-stream")) await read(response.body, answer);
      else { answer.article.remove(); await refused(response); }
    } catch (error) {
      showError("The connection failed; try again.");
    } finally {
      send.disabled = false;
      send.removeAttribute("aria-busy");
      status.textContent = "";
      field.focus();
    }
  });
})();
