//! The one stylesheet of the browser pages, hosted and dashboard alike. It is sent inline in
//! each page's `<style>`: both surfaces' content security policies allow inline styles but no
//! stylesheet from a URL (the hosted pages allow nothing from `'self'`), so a file could not
//! be loaded there. Rules that differ by surface hang off the `<body>` class the frame sets
//! (`hosted` or `dashboard`); everything else is shared.

pub const STYLESHEET: &str = concat!(
    // Shared: type, colours, focus rings, form controls, buttons, message boxes, tables.
    "*{box-sizing:border-box}",
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#111827;background:#f3f4f6}",
    "a{color:#1d4ed8}a:focus,button:focus,input:focus,select:focus,textarea:focus,summary:focus{outline:3px solid #2563eb;outline-offset:2px}",
    "h1{font-size:1.45rem;margin:.6rem 0}h2{font-size:1.1rem;margin:1.4rem 0 .5rem}ul{padding-left:1.2rem}",
    "label{display:block;font-weight:600;font-size:.9rem;margin:.6rem 0 .2rem}label.check{font-weight:400}",
    "input[type=text],input[type=email],input[type=password],input[type=url],input[type=search],input[type=number],input[type=date],select,textarea{width:100%;padding:.5rem;border:1px solid #9ca3af;border-radius:.35rem;font:inherit}",
    "textarea{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem;min-height:8rem}",
    "button,.button{display:inline-block;font:inherit;padding:.5rem .9rem;border:0;border-radius:.35rem;background:#1d4ed8;color:#fff;cursor:pointer;text-decoration:none;margin:.4rem .3rem .2rem 0}",
    "button.secondary,.button.secondary{background:#e5e7eb;color:#111827}button.danger,.button.danger{background:#b91c1c;color:#fff}button:disabled{opacity:.5;cursor:not-allowed}",
    ".error{background:#fef2f2;border:1px solid #fca5a5;color:#991b1b;padding:.6rem .8rem;border-radius:.35rem;white-space:pre-wrap}",
    ".notice{background:#ecfdf5;border:1px solid #6ee7b7;color:#065f46;padding:.6rem .8rem;border-radius:.35rem}",
    ".warn{background:#fffbeb;border:1px solid #fcd34d;color:#92400e;padding:.6rem .8rem;border-radius:.35rem}",
    ".muted{color:#4b5563;font-size:.88rem}",
    ".table{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:left;padding:.45rem .5rem;border-bottom:1px solid #e5e7eb;vertical-align:top}",
    "th{background:#f9fafb;white-space:nowrap}td.num{text-align:right}",
    "dl{display:grid;grid-template-columns:minmax(8rem,max-content) 1fr;gap:.3rem 1rem;margin:0}dt{font-weight:600;color:#374151}dd{margin:0;word-break:break-all}",
    "code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem}pre{background:#f9fafb;padding:.6rem;overflow-x:auto}",
    ".skip{position:absolute;left:-999px}.skip:focus{left:.5rem;top:.5rem;background:#fff;padding:.5rem;z-index:2}",
    // Hosted pages: one narrow card, the tenant's branding on top, full-width buttons.
    // 28rem is the old 24rem content box plus its padding, now that boxes include padding.
    ".hosted main{max-width:28rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:.75rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}",
    ".hosted header{text-align:center}.hosted header img{max-height:3.5rem;max-width:100%}.hosted h1{font-size:1.4rem;margin:.5rem 0}",
    ".hosted label{margin:1rem 0 0}.hosted input{padding:.65rem;margin-top:.3rem;font-size:1rem}",
    ".hosted button{width:100%;margin:1.5rem 0 0;padding:.75rem;font-size:1rem}.hosted button.secondary{margin-top:.5rem}",
    ".hosted .muted{font-size:.9rem;text-align:center}",
    // Dashboard: the navigation bar, wide pages of cards, rows of fields.
    "header.top{background:#111827;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;align-items:center}",
    "header.top a{color:#e5e7eb;text-decoration:none;padding:.2rem .1rem}header.top a[aria-current=page]{color:#fff;border-bottom:2px solid #60a5fa}",
    "header.top .brand{font-weight:700;color:#fff;margin-right:.5rem}header.top form{margin-left:auto;display:flex;gap:.6rem;align-items:center;font-size:.85rem}",
    "header.top button{background:#374151;margin:0;padding:.3rem .7rem}",
    ".dashboard{line-height:1.45}.dashboard main{max-width:72rem;margin:1rem auto;padding:0 1rem}",
    "section.card{background:#fff;border-radius:.6rem;padding:1rem;margin:1rem 0;box-shadow:0 1px 3px rgba(0,0,0,.1)}",
    ".row{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end}.row>*{flex:1 1 14rem}.row>button,.row>.button{flex:0 0 auto}",
    ".actions{display:flex;flex-wrap:wrap;gap:.4rem}.actions form{display:inline}",
    ".badge{display:inline-block;padding:.05rem .45rem;border-radius:1rem;font-size:.78rem;background:#e5e7eb}",
    ".badge.bad{background:#fee2e2;color:#991b1b}.badge.good{background:#d1fae5;color:#065f46}",
    "progress{width:100%;height:1.2rem}.pager{display:flex;gap:.6rem;align-items:center;margin-top:.6rem}",
    // Charts (admin::charts): drawn in SVG units, as wide as their card.
    "figure.chart{margin:0}figure.chart>svg{width:100%;height:auto;max-height:16rem}.legend{font-size:.85rem;color:#374151}.legend span{margin-right:.8rem}",
    // Script editors: a line-number gutter beside the text (admin.js keeps it in step).
    ".editor{position:relative;padding-left:3.2rem}.editor .gutter{position:absolute;left:0;top:0;bottom:0;width:3.2rem;margin:0;padding:calc(.5rem + 1px) .5rem 3rem 0;overflow:hidden;text-align:right;line-height:1.4;color:#6b7280;background:#e5e7eb;border-radius:.35rem 0 0 .35rem;user-select:none}",
    ".editor textarea{display:block;white-space:pre;overflow:auto;line-height:1.4;border-radius:0 .35rem .35rem 0;resize:vertical}textarea.args{min-height:0}",
    "details.script{border-top:1px solid #e5e7eb;padding:.4rem 0}details.script summary{cursor:pointer;font-weight:600}.trial h3{font-size:1rem;margin:.8rem 0 .3rem}",
    // Trigger bindings (admin::actions): one action a line, its step buttons beside it.
    "ol#bindings li{margin:.3rem 0}form.inline{display:inline;margin-left:.3rem}form.inline button{padding:.15rem .5rem;font-size:.85rem}ol.bound{margin:0;padding-left:1.2rem}",
    "img.avatar{width:4rem;height:4rem;border-radius:50%;object-fit:cover;background:#e5e7eb}.user-head{display:flex;gap:1rem;align-items:center;flex-wrap:wrap}",
    "@media (max-width:40rem){.dashboard main{padding:0 .5rem}.wide{display:none}section.card{padding:.7rem}dl{grid-template-columns:1fr}dt{margin-top:.4rem}}",
);
