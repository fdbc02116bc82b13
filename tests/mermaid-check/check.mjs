// Checks every ```mermaid block of Markdown files (arguments; stdin if none) with the real
// mermaid library pinned in package.json, which scripts/test-deps installs into $JOBCD_MERMAID_DIR
// (default ${XDG_CACHE_HOME:-~/.cache}/jobcd-test/mermaid-<version>). Each block must pass
// mermaid.parse (syntax), its diagram's db (gantt: getTasks() computes the task dates and throws
// "Invalid date"; parse alone does not) and mermaid.render under jsdom. Gantt blocks also fail on
// what mermaid silently patches up: a date not in dateFormat (it guesses with new Date), a bad
// duration (drawn 0 long), unknown after/until ids, a ':' in a task name, a line it drops or
// misreads, a tickInterval it ignores, more than 50000 characters (drawn as an error box).
// Exit 0 printing "ok: N diagram(s)"; exit 1 printing each failing block, the error and the line,
// or when a file has no mermaid block; exit 2 when mermaid is not installed.
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// Gantt dates are read in the viewer's local time zone, so a time that a DST change skips
// there is shifted. Check as a UTC viewer unless TZ names another zone to check as.
if (!process.env.TZ) process.env.TZ = 'UTC';

const here = dirname(fileURLToPath(import.meta.url));
const pins = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8')).dependencies;
const cacheHome = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
const depsDir =
  process.env.JOBCD_MERMAID_DIR || join(cacheHome, 'jobcd-test', `mermaid-${pins.mermaid}`);

function fail(msg, code = 2) {
  process.stderr.write(`mermaid-check: ${msg}\n`);
  process.exit(code);
}

// ---- the pinned packages, from the cache directory ----
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) fail(`node ${process.versions.node} is too old for jsdom 29 (needs 20.19 or later)`);
const req = createRequire(join(depsDir, 'package.json'));
for (const [name, version] of Object.entries(pins)) {
  const manifest = join(depsDir, 'node_modules', name, 'package.json');
  const found = existsSync(manifest) ? JSON.parse(readFileSync(manifest, 'utf8')).version : null;
  if (found !== version) {
    fail(
      `${name} ${version} is not installed in ${depsDir} (found ${found ?? 'nothing'}); ` +
        'run scripts/test-deps (or set JOBCD_MERMAID_DIR)',
    );
  }
}

// ---- the input: files named as arguments, or stdin ----
const inputs = (process.argv.length > 2 ? process.argv.slice(2) : ['-']).map((arg) => {
  const name = arg === '-' ? '<stdin>' : arg;
  try {
    return { name, markdown: readFileSync(arg === '-' ? 0 : arg, 'utf8') };
  } catch (e) {
    fail(`cannot read ${name}: ${e.message}`);
  }
});

// CommonMark fenced code blocks at top level (not inside lists or quotes), so that a
// ```mermaid inside another fence is not taken for a diagram.
function mermaidBlocks(text) {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const blocks = [];
  let open = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!open) {
      const m = /^( {0,3})(`{3,}|~{3,})(.*)$/.exec(line);
      if (!m || (m[2][0] === '`' && m[3].includes('`'))) continue;
      const lang = m[3].trim().split(/\s+/)[0];
      open = { indent: m[1].length, fence: m[2], lang, start: i + 1, body: [] };
    } else if (
      new RegExp(`^ {0,3}${open.fence[0] === '`' ? '`' : '~'}{${open.fence.length},}\\s*$`).test(line)
    ) {
      if (open.lang === 'mermaid') blocks.push({ ...open, end: i + 1 });
      open = null;
    } else {
      let body = line;
      for (let k = 0; k < open.indent && body.startsWith(' '); k++) body = body.slice(1);
      open.body.push(body);
    }
  }
  if (open && open.lang === 'mermaid') blocks.push({ ...open, end: null });
  return blocks;
}

let failures = 0;
let total = 0;
for (const input of inputs) {
  input.blocks = mermaidBlocks(input.markdown);
  total += input.blocks.length;
  if (input.blocks.length === 0) {
    failures++;
    process.stdout.write(`${input.name}: no \`\`\`mermaid block found\n`);
  }
}
if (total === 0) process.exit(1);

// ---- a DOM for mermaid (DOMPurify and the renderers need one before mermaid loads) ----
const { JSDOM } = req('jsdom');
const dom = new JSDOM('<!doctype html><html><body></body></html>', { pretendToBeVisual: true });
const win = dom.window;
globalThis.window = win;
globalThis.document = win.document;
for (const k of ['CSSStyleSheet', 'Element', 'HTMLElement', 'SVGElement', 'Node', 'DOMParser', 'XMLSerializer', 'MutationObserver']) {
  if (!(k in globalThis) && win[k]) globalThis[k] = win[k];
}
// jsdom has no layout: give text a plausible size and the page a width, as a browser would.
win.SVGElement.prototype.getBBox = function () {
  const size = parseFloat(this.getAttribute?.('font-size')) || 14;
  return { x: 0, y: 0, width: (this.textContent || '').length * size * 0.6, height: size * 1.2 };
};
win.SVGElement.prototype.getComputedTextLength = function () {
  return this.getBBox().width;
};
Object.defineProperty(win.HTMLElement.prototype, 'offsetWidth', { get: () => 1200 });

const { default: mermaid } = await import(pathToFileURL(req.resolve('mermaid')).href);
mermaid.initialize({ startOnLoad: false });
// mermaid's own dayjs, with the plugin its gantt db parses dates with
const mermaidRequire = createRequire(req.resolve('mermaid'));
const dayjs = mermaidRequire('dayjs');
dayjs.extend(mermaidRequire('dayjs/plugin/customParseFormat.js'));

// ---- checks ----
// Mermaid replaces "#name;" / "#123;" entity codes before parsing; undo that for messages.
const decode = (s) =>
  String(s).replace(/\uFB02\u00B0\u00B0(\w+)\u00B6\u00DF/g, '#$1;').replace(/\uFB02\u00B0(\w+)\u00B6\u00DF/g, '#$1;');

class Problem extends Error {
  constructor(message, lineIndex) {
    super(message);
    this.lineIndex = lineIndex; // 0-based index into the block's lines, or undefined
  }
}

// Index of the first line of the block for which pred holds, or undefined.
const findLine = (block, pred) => {
  const i = block.body.findIndex(pred);
  return i >= 0 ? i : undefined;
};

// Map a line number of mermaid's preprocessed text (front matter and %% comment lines
// removed, leading blank lines trimmed) back to a line of the block.
function preprocessedLineToBlock(block, line1) {
  const kept = [];
  let i = 0;
  const b = block.body;
  if (/^---\s*$/.test(b[0] ?? '')) {
    const close = b.findIndex((l, k) => k > 0 && /^---\s*$/.test(l));
    if (close > 0) i = close + 1;
  }
  for (; i < b.length; i++) {
    if (/^\s*%%(?!{)./.test(b[i])) continue;
    if (kept.length === 0 && b[i].trim() === '') continue;
    kept.push(i);
  }
  return kept[line1 - 1];
}

const durationRe = /^(\d+(?:\.\d+)?)([Mdhmswy]|ms)$/; // mermaid's parseDuration
const tickRe = /^([1-9]\d*)(millisecond|second|minute|hour|day|week|month)$/; // ganttRenderer's

// Lines of a gantt block that are statements rather than tasks, as mermaid's lexer sees them
// (keywords without a following name must end the line, else the rest is misread).
const statementRe = new RegExp(
  '^\\s*(?:' +
    [
      'gantt\\s*$', 'dateFormat\\s', 'axisFormat\\s', 'tickInterval\\s', 'includes\\s', 'excludes\\s',
      'todayMarker\\s', 'inclusiveEndDates\\s*$', 'topAxis\\s*$',
      'weekday\\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\\s*$',
      'weekend\\s+(?:friday|saturday)\\s*$', 'title\\s', 'section\\s', 'accTitle\\s*:', 'accDescr\\s*:', 'click\\s',
      '%%', // comments and %%{...}%% directives
    ].join('|') +
    ')',
  'i',
);
// mermaid's cleanupText, so that block lines compare with what the parser saw
const cleanup = (l) => l.replace(/<(\w+)([^>]*)>/g, (_, tag, attrs) => '<' + tag + attrs.replace(/="([^"]*)"/g, "='$1'") + '>');

function strictGantt(block, db) {
  const fmt = db.getDateFormat().trim();
  const tasks = db.getTasks();
  const ids = new Set(tasks.map((t) => t.id));

  // Which line each task came from; every other line must be a statement, blank or a comment.
  const used = new Array(block.body.length).fill(false);
  const lines = block.body.map(cleanup);
  let from = 0;
  if (/^---\s*$/.test(lines[0] ?? '')) {
    const close = lines.findIndex((l, k) => k > 0 && /^---\s*$/.test(l));
    for (let k = 0; k <= close; k++) used[k] = true;
  }
  const taskLine = new Map();
  for (const t of tasks) {
    const text = decode(t.task) + decode(t.raw.data);
    for (let i = from; i < lines.length; i++) {
      if (!used[i] && lines[i].trimStart().startsWith(text)) {
        used[i] = true;
        taskLine.set(t, i);
        from = i + 1;
        break;
      }
    }
  }
  for (let i = 0; i < lines.length; i++) {
    if (used[i]) continue;
    if (/^\s*accDescr\s*\{/.test(lines[i])) {
      while (i < lines.length && !lines[i].includes('}')) used[i++] = true;
      if (i < lines.length) used[i] = true;
      continue;
    }
    if (lines[i].trim() === '' || statementRe.test(lines[i])) used[i] = true;
  }

  const strictDate = (s) => dayjs(s, fmt, true).isValid();
  const unknownIds = (s, kw) => {
    const m = new RegExp(`^${kw}\\s+(.*)$`).exec(s);
    return m && m[1].split(' ').filter((id) => id && !ids.has(id));
  };
  for (const t of tasks) {
    const name = decode(t.task).trim();
    const line = taskLine.get(t);
    if (!/^[A-Za-z0-9_-]+$/.test(t.id)) {
      throw new Problem(
        t.id.includes(':')
          ? `task "${name}": a ':' in the task name ends the name there (mermaid reads the rest as task data); write ':' as #58;`
          : `task "${name}": task id "${decode(t.id)}" is not made of letters, digits, '_' and '-'`,
        line,
      );
    }
    if (t.raw.startTime?.type === 'getStartDate') {
      const s = t.raw.startTime.startData.trim();
      const unknown = unknownIds(s, 'after');
      if (unknown ? unknown.length : !strictDate(s) && !(/^[xX]$/.test(fmt) && /^\d+$/.test(s))) {
        throw new Problem(
          unknown
            ? `task "${name}": "after" names unknown task id(s) ${unknown.join(', ')} (mermaid would start it today)`
            : `task "${name}": start "${s}" does not match dateFormat ${fmt}, or is a time a DST change skips in ${process.env.TZ} (mermaid would guess with new Date())`,
          line,
        );
      }
    }
    const e = (t.raw.endTime?.data ?? '').trim();
    const unknown = unknownIds(e, 'until');
    if (unknown ? unknown.length : !strictDate(e) && !durationRe.test(e)) {
      throw new Problem(
        unknown
          ? `task "${name}": "until" names unknown task id(s) ${unknown.join(', ')} (mermaid would end it today)`
          : `task "${name}": end "${e}" is neither a date in dateFormat ${fmt} (existing in ${process.env.TZ}) nor a duration like 30m (mermaid would draw it 0 long)`,
        line,
      );
    }
    if (t.endTime < t.startTime) {
      throw new Problem(`task "${name}": ends before it starts`, line);
    }
  }
  const stray = used.indexOf(false);
  if (stray >= 0) {
    throw new Problem(
      'mermaid drops or misreads this line (a task name must not start with a keyword or a date, nor have % as its 1st or 2nd character)',
      stray,
    );
  }
  const tick = db.getTickInterval();
  if (tick !== undefined && !tickRe.test(tick)) {
    throw new Problem(
      `tickInterval "${tick}" is ignored by mermaid (it must be like 1hour, 15minute, 1day)`,
      findLine(block, (l) => /^\s*tickInterval\s/i.test(l)),
    );
  }
}

async function check(block, n) {
  const text = block.body.join('\n');
  if (block.end === null) throw new Problem('the ```mermaid fence is never closed', undefined);
  // 1. syntax
  try {
    await mermaid.parse(text);
  } catch (e) {
    const line1 = Number(/line (\d+)/.exec(e.message)?.[1] ?? e.hash?.loc?.first_line);
    throw new Problem(`syntax: ${decode(e.message)}`, Number.isInteger(line1) ? preprocessedLineToBlock(block, line1) : undefined);
  }
  // 2. the diagram's database: for gantt this is where task dates are computed
  const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
  if (diagram.type === 'gantt') {
    try {
      diagram.db.getTasks();
    } catch (e) {
      const bad = /^Invalid date:(.*)$/s.exec(e.message)?.[1];
      throw new Problem(
        `gantt: ${decode(e.message)}`,
        bad === undefined ? undefined : findLine(block, (l) => l.includes(':') && l.includes(bad.trim())),
      );
    }
    strictGantt(block, diagram.db);
  }
  // 3. render, as a viewer would
  let svg;
  try {
    ({ svg } = await mermaid.render(`jobcd-mermaid-check-${n}`, text));
  } catch (e) {
    throw new Problem(`render: ${decode(e.message)}`, undefined);
  }
  if (svg.includes('Maximum text size in diagram exceeded')) {
    throw new Problem(`diagram is ${text.length} characters; mermaid draws only an error box above 50000 (maxTextSize)`, undefined);
  }
}

let n = 0;
for (const input of inputs) {
  for (const [i, block] of input.blocks.entries()) {
    try {
      await check(block, ++n);
    } catch (e) {
      failures++;
      const where = `${input.name}: mermaid block ${i + 1} (line ${block.start})`;
      if (!(e instanceof Problem)) {
        process.stdout.write(`${where}: ${e?.stack ?? e}\n`);
        continue;
      }
      process.stdout.write(`${where}: ${e.message}\n`);
      if (e.lineIndex !== undefined) {
        process.stdout.write(`  line ${block.start + 1 + e.lineIndex}: ${block.body[e.lineIndex]}\n`);
      }
    }
  }
}
if (failures > 0) {
  process.stdout.write(`FAILED: ${failures} problem(s) in ${total} diagram(s)\n`);
  process.exit(1);
}
process.stdout.write(`ok: ${total} diagram(s)\n`);
process.exit(0);
