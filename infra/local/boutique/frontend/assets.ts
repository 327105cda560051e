/**
 * Stand-in static assets. The pages keep upstream's markup and class names (the browser journeys and the
 * reference page structure depend on them), but upstream's Bootstrap build and product photos are not
 * redistributed here: a small stylesheet lays out the same classes, and each picture is an SVG tile named
 * after the file it stands for, so screenshots in reports read as a shop. Both are a few KiB at most,
 * like one real request each, and cached by the browser for the journey. Nothing may be wider than a phone:
 * an emulated phone's layout viewport grows with the page and the journey's clicks then miss (journey.ts).
 */

const STYLESHEET = `*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111;background:#f8f9fa;line-height:1.5}
a{color:#0a58ca;text-decoration:none}
img{max-width:100%}
h3{font-size:1.4rem;margin:1.5rem 0 1rem}
.container,.container-fluid{width:100%;max-width:1140px;margin:0 auto;padding:0 16px}
.row,.form-row{display:flex;flex-wrap:wrap}
.row>*,.form-row>*{padding:0 8px}
.col,[class*="col-"]{flex:1 1 0;min-width:0}
.col-12{flex:0 0 100%}.col-8{flex:0 0 66.6%}.col-6{flex:0 0 50%}.col-4{flex:0 0 33.3%}
@media(max-width:767px){[class*="col-md-"],[class*="col-lg-"],[class*="col-xl-"]{flex:0 0 100%}}
@media(min-width:768px){.col-md-3{flex:0 0 25%}.col-md-4{flex:0 0 33.3%}.col-md-5{flex:0 0 41.6%}
.col-md-6{flex:0 0 50%}.col-md-7{flex:0 0 58.3%}.col-md-8{flex:0 0 66.6%}}
.d-flex{display:flex}.justify-content-between{justify-content:space-between}.justify-content-center{justify-content:center}
.align-items-center{align-items:center}.text-right{text-align:right}.text-center{text-align:center}
.py-5{padding-top:2rem;padding-bottom:2rem}.py-3{padding-top:1rem;padding-bottom:1rem}.mb-3{margin-bottom:1rem}
.padding-y-24{padding:24px 0}.border-bottom-solid{border-bottom:1px solid #dee2e6}
.navbar{background:#fff;border-bottom:1px solid #dee2e6;padding:12px 0}
.navbar-brand{font-weight:600;font-size:1.25rem;color:#111;gap:8px}
.top-left-logo{width:28px;height:28px}
.controls,.h-controls,.h-control{display:flex;align-items:center;gap:12px}
.controls-form select{padding:4px 8px;border:1px solid #ced4da;border-radius:4px;background:#fff}
.cart-link{position:relative;display:inline-flex}.logo{width:28px;height:28px}
.cart-size-circle{position:absolute;top:-6px;right:-10px;min-width:20px;height:20px;border-radius:50%;
background:#d63384;color:#fff;font-size:12px;display:flex;align-items:center;justify-content:center}
.hot-products-row{row-gap:24px}
.hot-product-card img,.product-image img,.recommendations img{width:100%;aspect-ratio:1;border-radius:8px;
background:#e9ecef;object-fit:cover;display:block}
.hot-product-card-name{margin-top:8px;font-weight:500}.hot-product-card-price{color:#555}
.h-product{padding:32px 16px}.product-price{font-size:1.5rem;font-weight:600;margin:8px 0}
.product-quantity-dropdown select,.cymbal-form-field input,.cymbal-form-field select{width:100%;padding:8px;
border:1px solid #ced4da;border-radius:4px;background:#fff}
.cymbal-form-field label{display:block;font-size:.85rem;color:#555;margin:12px 0 4px}
.cymbal-button-primary,.cymbal-button-secondary{border:0;border-radius:20px;padding:8px 20px;margin:12px 4px 0 0;
cursor:pointer;font-size:1rem}
.cymbal-button-primary{background:#0d6efd;color:#fff}.cymbal-button-secondary{background:#e9ecef;color:#111}
.cart-sections{padding:24px 0}.cart-summary-section{background:#fff;border-radius:8px;padding:16px}
.cart-summary-total-row{font-weight:600;border-top:1px solid #dee2e6;padding-top:8px}
.recommendations{padding:24px 0}.recommendations img{max-width:160px}
.ad{background:#fff3cd;margin-top:32px}.order-complete-section{padding:32px 16px}
footer{background:#212529;color:#adb5bd;margin-top:48px}.footer-text{margin:4px 0;font-size:.85rem}
`;

/** A square tile for a product picture, an icon a circle: a muted colour from the name, the name in the middle. */
function pictureTile(path: string): string {
  const stem = (path.split('/').pop() ?? '').replace(/\.[a-z0-9]+$/i, '');
  let h = 0;
  for (const c of stem) h = (h * 31 + (c.codePointAt(0) ?? 0)) % 360;
  const label = stem.replace(/[_-]+/g, ' ').replace(/[<>&"]/g, '');
  if (path.includes('/icons/')) {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28" viewBox="0 0 28 28"><circle cx="14" cy="14" r="12" fill="hsl(${h},45%,55%)"/></svg>`;
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400" viewBox="0 0 400 400">` +
    `<rect width="400" height="400" fill="hsl(${h},35%,85%)"/>` +
    `<text x="200" y="210" font-family="sans-serif" font-size="28" text-anchor="middle" fill="hsl(${h},35%,30%)">${label}</text></svg>`
  );
}

export interface Asset {
  text: string;
  contentType: string;
}

export function staticAsset(path: string): Asset {
  if (path.endsWith('.css')) return { text: STYLESHEET, contentType: 'text/css' };
  return { text: pictureTile(path), contentType: 'image/svg+xml' };
}
