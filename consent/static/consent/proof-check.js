// The citizen's proof, checked by their own browser (consent/templates/consent/proof_check.html):
// the same four steps as audit/proofcheck.py and the reference verifier (docs/trail.md §6), with
// WebCrypto (SHA-256, Ed25519) and nothing of the gateway's own check. "Verified" only when the
// four hold; otherwise the page names the first step that failed.
"use strict";

(() => {
  const section = document.getElementById("browser-check");
  if (!section || !window.crypto || !window.crypto.subtle) return;

  const STEPS = ["fingerprint", "signature", "size", "path"];
  const encoder = new TextEncoder();

  class StepFailed extends Error {}

  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

  function fromHex(text) {
    if (typeof text !== "string" || !/^[0-9a-f]{64}$/.test(text)) throw new StepFailed("not a 32-byte hash");
    return Uint8Array.from(text.match(/../g), (pair) => parseInt(pair, 16));
  }

  // Strict standard base64, as the gateway writes it: other alphabets, missing padding and
  // non-canonical trailing bits are refused.
  function fromBase64(text) {
    let binary;
    try {
      binary = atob(text);
    } catch (error) {
      throw new StepFailed("invalid base64");
    }
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    if (btoa(binary) !== text) throw new StepFailed("non-canonical base64");
    return bytes;
  }

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const same = (a, b) => a.length === b.length && a.every((byte, i) => byte === b[i]);

  // RFC 8785 for the values events hold (no floats): JSON.stringify escapes strings as §3.2.2.2
  // asks, and the default sort compares UTF-16 code units, as §3.2.3 asks.
  function canonical(value) {
    if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
    if (typeof value === "number") {
      if (!Number.isSafeInteger(value)) throw new StepFailed("a number events do not hold");
      return String(value);
    }
    if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
    if (typeof value === "object") {
      const keys = Object.keys(value).sort();
      return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`).join(",")}}`;
    }
    throw new StepFailed("not JSON");
  }

  // RFC 9162 §2.1: leaf = SHA-256(0x00 || canonical JSON), node = SHA-256(0x01 || left || right).
  const leafHash = async (event) => sha256(concat(Uint8Array.of(0), encoder.encode(canonical(event))));
  const nodeHash = async (left, right) => sha256(concat(Uint8Array.of(1), left, right));

  // c2sp.org/signed-note verifier key: <name>+<8 hex key hash>+<base64(0x01 || 32-byte key)>.
  async function parseVerifierKey(text) {
    const first = text.indexOf("+");
    const second = text.indexOf("+", first + 1);
    if (first <= 0 || second < 0) throw new StepFailed("not a verifier key");
    const name = text.slice(0, first);
    const keyHash = text.slice(first + 1, second);
    const raw = fromBase64(text.slice(second + 1));
    if (!/^[0-9a-f]{8}$/.test(keyHash) || raw.length !== 33 || raw[0] !== 1) throw new StepFailed("not an Ed25519 key");
    const computed = (await sha256(concat(encoder.encode(`${name}\n`), raw))).slice(0, 4);
    if (hex(computed) !== keyHash) throw new StepFailed("the key hash does not match the key");
    const key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
    return { name, keyHash, key };
  }

  // The note's text if a signature by this key verifies over it (other keys' lines are ignored;
  // a failing signature by this key, or none, refuses the note).
  async function openNote(text, verifier) {
    if (typeof text !== "string" || !text.endsWith("\n")) throw new StepFailed("not a signed note");
    const split = text.lastIndexOf("\n\n");
    if (split < 0) throw new StepFailed("the note has no signature");
    const body = text.slice(0, split + 1);
    const lines = text.slice(split + 2, -1).split("\n");
    let verified = false;
    for (const line of lines) {
      const parts = line.split(" ");
      if (parts.length !== 3 || parts[0] !== "\u2014") throw new StepFailed("a malformed signature line");
      const blob = fromBase64(parts[2]);
      if (blob.length < 5 || parts[1] !== verifier.name || hex(blob.slice(0, 4)) !== verifier.keyHash) continue;
      const good = await crypto.subtle.verify({ name: "Ed25519" }, verifier.key, blob.slice(4), encoder.encode(body));
      if (!good) throw new StepFailed("the signature does not verify");
      verified = true;
    }
    if (!verified) throw new StepFailed("no signature by the log's key");
    return body;
  }

  // c2sp.org/tlog-checkpoint: origin, size, base64 root, then optional extension lines.
  function parseCheckpoint(body) {
    const lines = body.split("\n");
    if (lines.length < 4 || lines[lines.length - 1] !== "" || lines.slice(0, -1).some((l) => !l)) {
      throw new StepFailed("not a checkpoint");
    }
    if (!/^(0|[1-9][0-9]*)$/.test(lines[1])) throw new StepFailed("the size is not a number");
    const root = fromBase64(lines[2]);
    if (root.length !== 32) throw new StepFailed("the root is not 32 bytes");
    return { origin: lines[0], size: Number(lines[1]), root };
  }

  // RFC 9162 §2.1.3.2, with BigInt: JavaScript's bitwise operators stop at 32 bits.
  async function rootFromPath(leaf, index, size, path) {
    let fn = BigInt(index);
    let sn = BigInt(size - 1);
    let r = leaf;
    for (const p of path) {
      if (sn === 0n) return null;
      if (fn & 1n || fn === sn) {
        r = await nodeHash(p, r);
        if (!(fn & 1n)) {
          while (fn && !(fn & 1n)) {
            fn >>= 1n;
            sn >>= 1n;
          }
        }
      } else {
        r = await nodeHash(r, p);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    return sn === 0n ? r : null;
  }

  // Each step in order, stopping at the first that fails: [{code, ok, detail}].
  async function check(bundle, verifierKey) {
    const steps = [];
    const step = async (code, run) => {
      try {
        steps.push({ code, ok: true, detail: await run() });
        return true;
      } catch (error) {
        if (error instanceof StepFailed || error instanceof TypeError || error instanceof SyntaxError) {
          steps.push({ code, ok: false, detail: error.message });
          return false;
        }
        throw error;
      }
    };
    let leaf;
    let checkpoint;
    if (!(await step("fingerprint", async () => {
      if (!bundle || typeof bundle.event !== "object" || bundle.event === null) throw new StepFailed("no event");
      leaf = await leafHash(bundle.event);
      return hex(leaf);
    }))) return steps;
    if (!(await step("signature", async () => {
      checkpoint = parseCheckpoint(await openNote(bundle.checkpoint, await parseVerifierKey(verifierKey)));
      return `${checkpoint.origin} · ${checkpoint.size} · ${hex(checkpoint.root)}`;
    }))) return steps;
    const index = bundle.leaf_index;
    if (!(await step("size", async () => {
      const fits = Number.isSafeInteger(index) && bundle.tree_size === checkpoint.size && index >= 0 && index < checkpoint.size;
      if (!fits) throw new StepFailed("the event's place is outside the signed log");
      return `${index + 1} / ${checkpoint.size}`;
    }))) return steps;
    await step("path", async () => {
      if (!Array.isArray(bundle.inclusion_proof)) throw new StepFailed("no path");
      const path = bundle.inclusion_proof.map(fromHex);
      const root = await rootFromPath(leaf, index, checkpoint.size, path);
      if (!root || !same(root, checkpoint.root)) throw new StepFailed("the path does not lead to the signed root");
      return `${path.length}`;
    });
    return steps;
  }

  // --- The page ---------------------------------------------------------------------------------

  const results = section.querySelectorAll("[data-result]");
  const show = (which) => results.forEach((el) => { el.hidden = el.dataset.result !== which; });

  function render(steps) {
    for (const code of STEPS) {
      const item = section.querySelector(`[data-step="${code}"]`);
      const done = steps.find((s) => s.code === code);
      const state = !done ? "pending" : done.ok ? "holds" : "fails";
      item.querySelectorAll("[data-state]").forEach((el) => { el.hidden = el.dataset.state !== state; });
      // What a step computed, when it holds; why one failed is the page's own words, not these.
      const detail = item.querySelector("[data-detail]");
      detail.textContent = done && done.ok ? done.detail : "";
      detail.hidden = !(done && done.ok);
    }
    const failed = steps.find((s) => !s.ok);
    const verified = steps.length === STEPS.length && !failed;
    if (failed) {
      section.querySelector("[data-failed-step]").textContent =
        section.querySelector(`[data-step="${failed.code}"] [data-text]`).textContent;
    }
    show(verified ? "verified" : "failed");
    section.dataset.outcome = verified ? "verified" : `failed:${failed ? failed.code : "path"}`;
  }

  async function run(bundleText, source) {
    section.querySelectorAll("[data-source]").forEach((el) => { el.hidden = el.dataset.source !== source; });
    show("checking");
    let bundle = null;
    try {
      bundle = JSON.parse(bundleText);
    } catch (error) {
      bundle = null;
    }
    render(await check(bundle, section.dataset.key));
  }

  async function supportsEd25519() {
    try {
      await crypto.subtle.importKey("raw", new Uint8Array(32), { name: "Ed25519" }, false, ["verify"]);
      return true;
    } catch (error) {
      return false;
    }
  }

  async function start() {
    section.hidden = false;
    if (!(await supportsEd25519())) {
      show("unsupported");
      return;
    }
    // The browser's check stands in for the gateway's, which stays for pages without scripts.
    const server = document.getElementById("server-check");
    if (server) server.hidden = true;
    const [bundle, key] = await Promise.all([
      fetch(section.dataset.proofUrl, { credentials: "same-origin" }).then((r) => r.text()),
      fetch(section.dataset.keyUrl).then((r) => r.text()),
    ]);
    section.dataset.key = key.trim();
    await run(bundle, "event");
    const input = section.querySelector("input[type=file]");
    input.addEventListener("change", async () => {
      if (input.files.length) await run(await input.files[0].text(), "file");
    });
  }

  start().catch(() => {
    show("unsupported");
    const server = document.getElementById("server-check");
    if (server) server.hidden = false;
  });
})();
