/** Server-rendered pages of the sessions dialect: small, self-contained HTML with no external assets. */

const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
h1{font-size:1.8rem;margin-bottom:.2rem}nav a{margin-right:1rem}table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ddd}code{background:#f3f3f3;padding:0 .2rem}
.muted{color:#666}
</style></head><body>
<nav><a href="/">Home</a><a href="/about">About</a><a href="/api/v1/docs">API docs</a><a href="/api/v1/redoc">Redoc</a></nav>
${body}
</body></html>`;
}

export interface ModelSummary {
  id: string;
  provider: string;
  available: boolean;
}

export function homePage(models: ModelSummary[]): string {
  const rows = models.length
    ? models
        .map(
          (m) =>
            `<tr><td><code>${escapeHtml(m.id)}</code></td><td>${escapeHtml(m.provider)}</td><td>${m.available ? 'available' : 'not available'}</td></tr>`,
        )
        .join('')
    : '<tr><td colspan="3" class="muted">No model configured yet: see the README to add a provider or pull a local model.</td></tr>';
  return layout(
    'Causerie',
    `<h1>Causerie</h1>
<p>A self-hostable chat API server: accounts and API keys, quotas, persisted conversations and streaming answers from large language models.</p>
<h2>Models</h2>
<table><thead><tr><th>Model</th><th>Provider</th><th>Status</th></tr></thead><tbody>${rows}</tbody></table>
<h2>Documentation</h2>
<ul><li><a href="/api/v1/docs">Swagger UI</a></li><li><a href="/api/v1/redoc">Redoc</a></li><li><a href="/api/v1/openapi.json">OpenAPI 3.1 document</a></li></ul>`,
  );
}

export function aboutPage(version: string): string {
  return layout(
    'About Causerie',
    `<h1>About Causerie</h1>
<p>Causerie ${escapeHtml(version)} serves five chat API dialects over one domain model, so a client written against any of them works unchanged.</p>
<p>It runs embedded (one process, one SQLite file) or as a cluster (PostgreSQL and Redis shared by stateless nodes).</p>`,
  );
}
