'use strict';
/*
 * The admin page in a real browser: Debian's chromium driven by
 * playwright-core. Run by tests/integration/test_admin_page.py, which
 * starts previewd and provisions the environments first.
 *
 * Input (environment variables):
 *   PREVIEWD_URL          http://127.0.0.1:PORT
 *   PREVIEWD_ADMIN_TOKEN  the Basic password (never put on the command line)
 *   ADMIN_USER            the Basic user name (any name works)
 *   EXPECT_ENVS           JSON [{id, repo, number}] that the page must list
 *   DESTROY_ID            the environment to destroy through its form
 *   ARTIFACTS_DIR         where the screenshots go: admin-page.png (desktop),
 *                         admin-page-phone.png (390x844), and
 *                         admin-page-destroyed.png (after Destroy, with
 *                         the flash message)
 *   CHROMIUM              the browser (default /usr/bin/chromium)
 *
 * Output: one JSON line on stdout, the summary the pytest side asserts on;
 * "problems" lists every check that failed here (empty when all passed).
 * Exit 0 when the run got through (problems or not), 1 when it could not.
 * Progress goes to stderr. Nothing waits a fixed time: only Playwright's
 * own waits for loads and navigations.
 */
const fs = require('fs');
const path = require('path');

const need = (name) => {
	const v = process.env[name];
	if (v === undefined || v === '') {
		console.error(`admin_page.js: ${name} is not set`);
		process.exit(1);
	}
	return v;
};

const BASE = need('PREVIEWD_URL').replace(/\/+$/, '');
const TOKEN = need('PREVIEWD_ADMIN_TOKEN');
const USER = process.env.ADMIN_USER || 'admin-test';
const EXPECT = JSON.parse(need('EXPECT_ENVS'));
const DESTROY_ID = need('DESTROY_ID');
const ARTIFACTS = need('ARTIFACTS_DIR');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ORIGIN = new URL(BASE).origin;

let chromium;
try {
	({ chromium } = require('playwright-core'));
} catch (e) {
	console.error('admin_page.js: playwright-core is not installed ' +
	    '(cd tests/node && npm ci): ' + e.message);
	process.exit(1);
}

const problems = [];
const check = (ok, what) => {
	if (!ok)
		problems.push(what);
	return ok;
};
const log = (...a) => console.error('admin_page.js:', ...a);

/* Everything the test needs from the rendered DOM, read in the page. */
function readPage() {
	const text = (el) => (el ? el.innerText.replace(/\s+/g, ' ').trim() : null);
	const forms = [...document.querySelectorAll('form')];
	return {
		path: location.pathname,
		query: location.search,
		title: document.title,
		viewport: (document.querySelector('meta[name="viewport"]') || {}).content || null,
		scripts: document.querySelectorAll('script').length,
		inline_handlers: [...document.querySelectorAll('*')].filter((el) =>
		    [...el.attributes].some((a) => /^on/i.test(a.name))).length,
		external_refs: [...document.querySelectorAll('[src], link[href]')]
		    .map((el) => el.getAttribute('src') || el.getAttribute('href'))
		    .filter((u) => !/^data:/.test(u)),
		flash: text(document.querySelector('.flash')),
		empty: text(document.querySelector('.empty')),
		rows: [...document.querySelectorAll('tr[data-env-id]')].map((tr) => ({
			id: tr.getAttribute('data-env-id'),
			status: tr.getAttribute('data-status'),
			text: text(tr),
			links: [...tr.querySelectorAll('a[href]')].map((a) => ({
				href: a.href, text: text(a) })),
			forms: [...tr.querySelectorAll('form')].map((f) => ({
				method: (f.getAttribute('method') || 'get').toLowerCase(),
				action: new URL(f.action).pathname,
				class: f.className,
				csrf: (f.querySelector('input[type="hidden"][name="csrf"]') || {}).value || null,
				button: text(f.querySelector('button, input[type="submit"]')),
			})),
		})),
		pools: [...document.querySelectorAll('#pools [data-engine]')].map((r) => ({
			engine: r.getAttribute('data-engine'), text: text(r) })),
		post_forms: forms.filter((f) => (f.getAttribute('method') || '').toLowerCase() === 'post').length,
		post_forms_with_csrf: forms.filter((f) =>
		    (f.getAttribute('method') || '').toLowerCase() === 'post' &&
		    (f.querySelector('input[type="hidden"][name="csrf"]') || {}).value).length,
		csrf_values: [...new Set(forms.map((f) =>
		    (f.querySelector('input[name="csrf"]') || {}).value).filter(Boolean))].length,
		filter_form: forms.filter((f) =>
		    (f.getAttribute('method') || 'get').toLowerCase() === 'get').map((f) => ({
			action: new URL(f.action).pathname,
			fields: [...f.elements].map((e) => e.name).filter(Boolean),
		}))[0] || null,
		scroll_width: document.documentElement.scrollWidth,
		inner_width: window.innerWidth,
	};
}

/* A page that records what it loads and complains about. */
async function openPage(context, seen) {
	const page = await context.newPage();
	page.on('request', (r) => {
		const u = r.url();
		if (!u.startsWith('data:') && new URL(u).origin !== ORIGIN)
			seen.external.push(u);
	});
	page.on('console', (m) => {
		if (m.type() === 'error')
			seen.console.push(m.text());
	});
	page.on('pageerror', (e) => seen.console.push(String(e)));
	return page;
}

const LAUNCH = {
	executablePath: CHROMIUM,
	headless: true,
	timeout: 60000,
	args: ['--no-sandbox', '--disable-gpu', '--no-first-run',
	    '--disable-background-networking', '--disable-component-update',
	    '--disable-sync', '--disable-quic'],
};

async function main() {
	fs.mkdirSync(ARTIFACTS, { recursive: true });
	const shots = {
		desktop: path.join(ARTIFACTS, 'admin-page.png'),
		phone: path.join(ARTIFACTS, 'admin-page-phone.png'),
		destroyed: path.join(ARTIFACTS, 'admin-page-destroyed.png'),
	};
	const summary = { problems, screenshots: shots };
	const seen = { external: [], console: [] };

	const browser = await chromium.launch(LAUNCH);
	summary.browser = browser.version();
	log('chromium', summary.browser);
	try {
		const credentials = { username: USER, password: TOKEN };

		/* Desktop. */
		const context = await browser.newContext({
			httpCredentials: credentials,
			viewport: { width: 1280, height: 900 },
			colorScheme: 'light',
		});
		context.setDefaultTimeout(30000);
		context.setDefaultNavigationTimeout(30000);
		const page = await openPage(context, seen);
		const resp = await page.goto(BASE + '/', { waitUntil: 'load' });
		summary.status = resp.status();
		summary.content_type = resp.headers()['content-type'] || null;
		if (!check(resp.status() === 200, `GET / answered ${resp.status()}`))
			return summary;
		const before = await page.evaluate(readPage);
		summary.page = before;

		check(/width=device-width/.test(before.viewport || ''),
		    'no viewport meta tag with width=device-width');
		check(before.scripts === 0, `${before.scripts} <script> elements`);
		check(before.inline_handlers === 0, 'inline on* event handlers');
		check(before.external_refs.length === 0,
		    'references to assets: ' + before.external_refs.join(' '));
		check(before.empty === null, 'the empty state shows although there are environments');
		for (const want of EXPECT) {
			const row = before.rows.find((r) => r.id === want.id);
			if (!check(row, `no row with data-env-id="${want.id}"`))
				continue;
			check(row.status === 'ready', `${want.id}: data-status="${row.status}", not ready`);
			check(row.text.includes(want.repo),
			    `${want.id}: row does not show the repository ${want.repo}: ${row.text}`);
			const pr = row.links.find((l) =>
			    l.href.endsWith(`/${want.repo}/pull/${want.number}`));
			check(pr && new RegExp(`(^|\\D)${want.number}(\\D|$)`).test(pr.text),
			    `${want.id}: no link showing #${want.number} to its pull request: ` +
			    JSON.stringify(row.links));
			const actions = {};
			for (const f of row.forms)
				actions[f.action] = f;
			for (const [act, label] of [['extend', 'Extend 24 h'], ['destroy', 'Destroy']]) {
				const f = actions[`/admin/environments/${want.id}/${act}`];
				if (!check(f, `${want.id}: no ${act} form`))
					continue;
				check(f.method === 'post', `${want.id}: ${act} form is not a POST`);
				check(f.csrf, `${want.id}: ${act} form without the csrf field`);
				check(f.button === label, `${want.id}: ${act} button reads "${f.button}"`);
			}
			check(actions[`/admin/environments/${want.id}/destroy`] &&
			    /(^|\s)destroy(\s|$)/.test(actions[`/admin/environments/${want.id}/destroy`].class),
			    `${want.id}: the destroy form lacks class "destroy"`);
			check(!actions[`/admin/environments/${want.id}/retry`],
			    `${want.id}: a Retry form on a ready environment`);
		}
		check(before.rows.length === EXPECT.length,
		    `${before.rows.length} rows, expected ${EXPECT.length}`);
		check(before.pools.some((p) => p.engine === 'postgres'),
		    'the pool section does not list postgres: ' + JSON.stringify(before.pools));
		check(before.post_forms > 0 && before.post_forms === before.post_forms_with_csrf,
		    `${before.post_forms - before.post_forms_with_csrf} of ${before.post_forms} POST forms lack the csrf field`);
		check(before.csrf_values === 1, `${before.csrf_values} different csrf values on one page`);
		check(before.filter_form && before.filter_form.action === '/' &&
		    ['repo', 'status', 'sort'].every((n) => before.filter_form.fields.includes(n)),
		    'no GET form to / with repo, status and sort: ' + JSON.stringify(before.filter_form));
		await page.screenshot({ path: shots.desktop, fullPage: true });
		log('saved', shots.desktop);

		/* The filter form: status=ready keeps both, as a plain GET. */
		const filterForm = page.locator('form[method="get"]');
		await filterForm.locator('select[name="status"]').selectOption('ready');
		await Promise.all([
			page.waitForURL((u) => u.searchParams.get('status') === 'ready'),
			filterForm.locator('[type="submit"]').first().click(),
		]);
		const filtered = await page.evaluate(readPage);
		summary.filtered = { query: filtered.query,
		    rows: filtered.rows.map((r) => [r.id, r.status]) };
		check(filtered.path === '/' && filtered.rows.length === EXPECT.length &&
		    filtered.rows.every((r) => r.status === 'ready'),
		    'filtering by status=ready: ' + JSON.stringify(summary.filtered));
		await page.goto(BASE + '/', { waitUntil: 'load' });

		/* Phone. */
		const phone = await browser.newContext({
			httpCredentials: credentials,
			viewport: { width: 390, height: 844 },
			deviceScaleFactor: 2,
			isMobile: true,
			hasTouch: true,
			colorScheme: 'light',
		});
		phone.setDefaultTimeout(30000);
		const ppage = await openPage(phone, seen);
		const presp = await ppage.goto(BASE + '/', { waitUntil: 'load' });
		check(presp.status() === 200, `phone: GET / answered ${presp.status()}`);
		const onPhone = await ppage.evaluate(readPage);
		const buttons = await ppage.locator('tr[data-env-id] form.destroy button').evaluateAll(
		    (els) => els.map((b) => { const r = b.getBoundingClientRect();
			return { left: r.left, right: r.right, width: r.width, height: r.height }; }));
		summary.phone = { scroll_width: onPhone.scroll_width, inner_width: onPhone.inner_width,
		    rows: onPhone.rows.length, destroy_buttons: buttons };
		check(onPhone.inner_width === 390, `phone: layout viewport ${onPhone.inner_width}px wide, not 390`);
		check(onPhone.scroll_width <= onPhone.inner_width,
		    `phone: the page scrolls sideways (${onPhone.scroll_width}px in ${onPhone.inner_width}px)`);
		check(buttons.length === EXPECT.length && buttons.every((b) =>
		    b.left >= 0 && b.right <= onPhone.inner_width && b.height >= 24),
		    'phone: a Destroy button is off screen or tiny: ' + JSON.stringify(buttons));
		await ppage.screenshot({ path: shots.phone, fullPage: true });
		log('saved', shots.phone);
		await phone.close();

		/* Destroy one environment through its form. */
		const button = page.locator(`tr[data-env-id="${DESTROY_ID}"] form.destroy`)
		    .locator('button, input[type="submit"]');
		const [nav] = await Promise.all([
			page.waitForNavigation({ waitUntil: 'load' }),
			button.click(),
		]);
		const post = nav.request().redirectedFrom();
		const postResp = post ? await post.response() : null;
		const after = await page.evaluate(readPage);
		summary.destroy = {
			id: DESTROY_ID,
			final_status: nav.status(),
			final_url: page.url(),
			path: after.path,
			post: post ? { method: post.method(), path: new URL(post.url()).pathname,
			    body: post.postData(), status: postResp ? postResp.status() : null,
			    location: postResp ? postResp.headers().location || null : null } : null,
			flash: after.flash,
			rows: after.rows.map((r) => ({ id: r.id, status: r.status })),
		};
		check(post && post.method() === 'POST' &&
		    new URL(post.url()).pathname === `/admin/environments/${DESTROY_ID}/destroy`,
		    'clicking Destroy did not POST to the destroy action: ' + JSON.stringify(summary.destroy.post));
		check(postResp && postResp.status() === 303, 'the destroy POST was not answered 303');
		check(post && /(^|&)csrf=[^&]+/.test(post.postData() || ''),
		    'the destroy POST did not carry csrf');
		check(nav.status() === 200 && after.path === '/',
		    `after Destroy: ${nav.status()} at ${page.url()}, not the page at /`);
		check(after.flash && after.flash.includes(DESTROY_ID),
		    `no flash message naming ${DESTROY_ID}: ${after.flash}`);
		/* The destroyed row's status may still say ready: the request is
		 * recorded at once, the worker moves it to deleting a moment later
		 * (the pytest side waits for deleted through the API). */
		for (const want of EXPECT.filter((e) => e.id !== DESTROY_ID)) {
			const row = after.rows.find((r) => r.id === want.id);
			check(row && row.status === 'ready', `after Destroy ${want.id} is not ready`);
		}
		await page.screenshot({ path: shots.destroyed, fullPage: true });
		log('saved', shots.destroyed);
		await context.close();
	} finally {
		await browser.close();
	}
	summary.external_requests = seen.external;
	summary.console_errors = seen.console;
	check(seen.external.length === 0, 'requests to other origins: ' + seen.external.join(' '));
	check(seen.console.length === 0, 'console errors: ' + seen.console.join(' | '));
	return summary;
}

main().then((summary) => {
	process.stdout.write(JSON.stringify(summary) + '\n');
	process.exit(0);
}, (err) => {
	console.error('admin_page.js: ' + (err && err.stack || err));
	process.stdout.write(JSON.stringify({ problems: problems.concat(
	    ['aborted: ' + (err && err.message || String(err))]) }) + '\n');
	process.exit(1);
});
