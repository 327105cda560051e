/** The report's only stylesheet, inlined so the HTML file stands alone. */
export const CSS = `
:root{--fg:#111827;--muted:#6b7280;--line:#e5e7eb;--bg:#f8fafc;--card:#fff;--accent:#2563eb;--good:#059669;--bad:#dc2626;--warn:#d97706}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif;color:var(--fg);background:var(--bg)}
.wrap{max-width:1160px;margin:0 auto;padding:0 24px}
header{background:#0f172a;color:#e5e7eb;padding:18px 0 0}
header h1{margin:4px 0 2px;font-size:24px;font-weight:650;color:#fff;letter-spacing:-.01em}
.brand{font-size:12px;text-transform:uppercase;letter-spacing:.12em;color:#93c5fd;font-weight:700}.brand span{color:#94a3b8;font-weight:500}
.meta{color:#94a3b8;font-size:12.5px}.meta code{color:#cbd5e1}
nav{display:flex;flex-wrap:wrap;gap:2px;margin-top:14px}
nav a{color:#cbd5e1;text-decoration:none;font-size:13px;padding:7px 11px;border-radius:6px 6px 0 0}
nav a:hover{background:#1e293b;color:#fff}nav a.off{color:#64748b}
.badge{display:inline-block;font-size:12px;font-weight:600;padding:2px 9px;border-radius:999px;vertical-align:middle;text-transform:uppercase;letter-spacing:.05em}
.badge.good{background:#d1fae5;color:#065f46}.badge.warn{background:#fef3c7;color:#92400e}.badge.bad{background:#fee2e2;color:#991b1b}
main{padding-top:20px}
.sec{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:18px 22px;margin:0 0 18px;box-shadow:0 1px 2px rgba(0,0,0,.03)}
.sec h2{margin:0 0 10px;font-size:17px;font-weight:650}
.sec h3{margin:10px 0 6px;font-size:14px;font-weight:600;color:#374151}
.sub{margin:-6px 0 10px;color:var(--muted);font-size:13px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px}
.card{border:1px solid var(--line);border-radius:8px;padding:11px 13px;background:#fff;border-top:3px solid #cbd5e1}
.card.good{border-top-color:var(--good)}.card.bad{border-top-color:var(--bad)}.card.warn{border-top-color:var(--warn)}
.cl{font-size:11.5px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);font-weight:600}
.cv{font-size:23px;font-weight:650;margin:2px 0 0;font-variant-numeric:tabular-nums}
.cn{font-size:12px;color:var(--muted)}
.muted{color:var(--muted);font-weight:400}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:18px}
.grid2.wide-left{grid-template-columns:3fr 2fr}
table.nowrap td:first-child{white-space:nowrap}
.grid3{display:grid;grid-template-columns:1fr 1fr 1fr;gap:16px;align-items:start}
.half{max-width:560px}
@media (max-width:900px){.grid2,.grid2.wide-left{grid-template-columns:3fr 2fr}
table.nowrap td:first-child{white-space:nowrap}
.grid3{grid-template-columns:1fr}}
.mini{border:1px solid #f1f5f9;border-radius:6px;padding:4px}
table{border-collapse:collapse;width:100%;margin:6px 0 8px;font-size:13px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
thead th{font-size:11.5px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600;background:#f9fafb}
table.num td{font-variant-numeric:tabular-nums}
table.small td{font-size:12px;padding:4px 7px;white-space:nowrap}
table.faultlog td:nth-child(3){line-height:1.3}
table.faultlog td:nth-child(9){white-space:normal;min-width:12em}
table.journeys td{font-size:12.5px;vertical-align:top}
table.journeys td:nth-child(-n+4){white-space:nowrap}
table.journeys td:nth-child(6){word-break:break-word}
table.kv th{width:140px;color:var(--muted);font-weight:600;font-size:12.5px;background:none}
.scroll{max-height:420px;overflow:auto;border:1px solid var(--line);border-radius:6px}
.scroll table{margin:0}.scroll thead th{position:sticky;top:0}
.note{color:#4b5563;font-size:12.5px;margin:6px 0 0}
.note.warn{color:#92400e;background:#fffbeb;padding:4px 8px;border-radius:4px}
td.cannot{text-align:left;font-style:italic;color:#92400e}
table.detectors td:last-child{text-align:left;max-width:340px;white-space:normal}
.notrun{background:#f9fafb;border:1px dashed #d1d5db;color:#6b7280;border-radius:8px;padding:12px 14px}
.warnbox{background:#fffbeb;border-color:#fcd34d;color:#92400e;margin-bottom:16px}
.dot,.sw{display:inline-block;width:9px;height:9px;border-radius:2px;margin-right:6px;vertical-align:0}
.legend{display:flex;flex-wrap:wrap;gap:14px;font-size:12px;color:#374151;margin-top:8px}
.tag{font-size:10.5px;background:#dbeafe;color:#1e40af;padding:1px 6px;border-radius:4px;font-weight:600}
.st{font-size:11px;font-weight:600;padding:1px 7px;border-radius:4px;background:#e5e7eb;color:#374151}
.st.removed,.st.applied{background:#d1fae5;color:#065f46}.st.failed,.st.rejected{background:#fee2e2;color:#991b1b}.st.planned{background:#fef3c7;color:#92400e}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.chart{display:block;font-family:inherit}
.chart .plot{fill:#fff;stroke:#e5e7eb}.chart .grid{stroke:#f1f5f9}.chart .axis{stroke:#9ca3af}
.chart .diag{stroke:#d1d5db;stroke-dasharray:4 4}
.chart .tk{font-size:11px;fill:#6b7280}.chart .al{font-size:11.5px;fill:#374151}
.chart .ct{font-size:12.5px;font-weight:600;fill:#111827}.chart .lg{font-size:11.5px;fill:#374151}
.chart .hl{font-size:11px;font-weight:600}.chart .cmv{font-size:20px;font-weight:650}
.ct2{font-size:12.5px;font-weight:600;margin:0 0 4px}
.timeline-wrap{margin-top:16px}
footer{color:var(--muted);font-size:12px;padding:10px 24px 30px}
`;
