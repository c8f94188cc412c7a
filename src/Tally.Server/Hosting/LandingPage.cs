namespace Tally.Server.Hosting;

/// <summary>The front page until the dashboard arrives: what is configured, the last 30 days, and where the API is.</summary>
internal static class LandingPage
{
    public const string Html = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Tally</title>
        <style>
          :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
          body { max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
          table { border-collapse: collapse; width: 100%; }
          th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #8884; }
          td.n { text-align: right; font-variant-numeric: tabular-nums; }
          code { background: #8882; padding: 0 .25rem; border-radius: 3px; }
        </style>
        </head>
        <body>
        <h1>Tally</h1>
        <p>Usage statistics you can trust. The last 30 days of each registered query:</p>
        <table><thead><tr><th scope="col">Query</th><th scope="col">Event type</th><th scope="col">Metric</th><th scope="col" class="n">Last 30 days</th></tr></thead>
        <tbody id="queries"><tr><td colspan="4">Loading…</td></tr></tbody></table>
        <h2>API</h2>
        <ul>
          <li><a href="/openapi/v1.json">OpenAPI description</a></li>
          <li><a href="/api/v1/types">Event types</a> and <a href="/api/v1/stats">registered queries</a></li>
          <li><a href="/api/v1/events?delta=3600">Raw events of the last hour</a></li>
          <li><a href="/healthz">Health</a></li>
        </ul>
        <script>
        const rows = document.getElementById('queries');
        fetch('/api/v1/stats').then(r => r.json()).then(async queries => {
          rows.replaceChildren();
          for (const q of queries.filter(q => q.kind === 'date-histogram')) {
            const points = await fetch(`/api/v1/stats/${encodeURIComponent(q.name)}/timeline?interval=month`).then(r => r.json());
            const tr = rows.insertRow();
            for (const text of [q.name, q.event_type, q.metric]) tr.insertCell().textContent = text;
            const total = tr.insertCell();
            total.className = 'n';
            total.textContent = points.reduce((sum, p) => sum + p.value, 0).toLocaleString();
          }
        });
        </script>
        </body>
        </html>
        """;
}
