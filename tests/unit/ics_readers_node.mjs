// Reads calendars with ical.js (Thunderbird's parser) and node-ical, for
// tests/unit/ics_readers.py. Node modules come from tests/ics/node_modules
// (`make tests/ics/node_modules`; pinned in tests/ics/package-lock.json).
//
//   node ics_readers_node.mjs MODULES_DIR < samples.json
//
// stdin: [{"name", "icaljs": TEXT, "nodeical": TEXT, "from", "to"}, ...]
// (the text for ical.js has its TZIDs renamed so that only our VTIMEZONE
// can place it; node-ical gets the calendar as written: it resolves TZIDs
// by name with Intl and does not read VTIMEZONE). from/to: ISO instants
// bounding the expansion.
// stdout: {NAME: {"icaljs": RESULT, "nodeical": RESULT}, ...} where RESULT
// is {"error": TEXT} or {"method", "occurrences": [[startZ, endZ, uid,
// status, recurrenceIdZ|null], ...], "warnings": [TEXT, ...], ...}: the
// occurrences of every event in the window, overrides applied, STATUS as
// given by the component the occurrence came from; "warnings" is what the
// library printed through console while reading. ical.js adds
// "rdate_only": {uid: [startZ, endZ]}, the DTSTART/DTEND of each event with
// RDATE but no RRULE (its iterator skips that instance, kewisch/ical.js#534);
// node-ical adds "rdates": {uid: n}, the RDATE values it kept as text.
import { createRequire } from 'node:module';
import path from 'node:path';

const modules = process.argv[2];
const require = createRequire(path.join(path.resolve(modules), 'x.js'));
const ICAL = (await import(require.resolve('ical.js'))).default;
const nodeical = (await import(require.resolve('node-ical'))).default;

const MAX = 500; // occurrences per event: every sample has a handful

function iso(d) {
	return d.toISOString().replace('.000Z', 'Z');
}

function icaljs(text, from, to) {
	const root = ICAL.Component.fromString(text); // throws on a parse error
	if (root.name !== 'vcalendar')
		throw new Error('top component is ' + root.name);
	for (const vtz of root.getAllSubcomponents('vtimezone'))
		ICAL.TimezoneService.register(vtz);
	const method = root.getFirstPropertyValue('method');
	const byUid = new Map();
	for (const c of root.getAllSubcomponents('vevent')) {
		const uid = c.getFirstPropertyValue('uid');
		if (!byUid.has(uid))
			byUid.set(uid, { master: null, exceptions: [] });
		const g = byUid.get(uid);
		if (c.hasProperty('recurrence-id'))
			g.exceptions.push(c);
		else if (g.master)
			throw new Error('two masters for ' + uid);
		else
			g.master = c;
	}
	const occurrences = [];
	const rdate_only = {};
	const lo = ICAL.Time.fromJSDate(new Date(from), true);
	const hi = new Date(to);
	for (const [uid, g] of byUid) {
		const roots = g.master ? [g.master] : g.exceptions;
		for (const c of roots) {
			const ev = new ICAL.Event(c, { exceptions: g.master ? g.exceptions : [] });
			if (c.hasProperty('rdate') && !c.hasProperty('rrule') && !c.hasProperty('recurrence-id'))
				rdate_only[uid] = [iso(ev.startDate.toJSDate()), iso(ev.endDate.toJSDate())];
			const item = (comp) => [comp.getFirstPropertyValue('status'),
				comp.getFirstPropertyValue('recurrence-id')];
			if (!ev.isRecurring()) {
				// A plain event, or an override sent without its master.
				const [st, rid] = item(c);
				if (ev.startDate.toJSDate() <= hi && ev.endDate.compare(lo) > 0)
					occurrences.push([iso(ev.startDate.toJSDate()), iso(ev.endDate.toJSDate()),
						uid, st, rid ? iso(rid.toJSDate()) : null]);
				continue;
			}
			const it = ev.iterator();
			for (let next, n = 0; (next = it.next()); n++) {
				if (n >= MAX)
					throw new Error('more than ' + MAX + ' occurrences of ' + uid);
				if (next.toJSDate() > hi)
					break; // by the recurrence id: an override may move its instance
				const d = ev.getOccurrenceDetails(next);
				const s = d.startDate.toJSDate();
				if (s > hi || d.endDate.compare(lo) <= 0)
					continue;
				const [st, rid] = item(d.item.component);
				occurrences.push([iso(s), iso(d.endDate.toJSDate()), uid, st,
					rid ? iso(rid.toJSDate()) : null]);
			}
		}
	}
	return { method, occurrences, rdate_only };
}

function nodeIcal(text, from, to) {
	const data = nodeical.sync.parseICS(text);
	let method = null;
	const occurrences = [];
	const rdates = {};
	for (const v of Object.values(data)) {
		if (v.type === 'VCALENDAR') {
			method = v.method ?? null;
			continue;
		}
		if (v.type !== 'VEVENT')
			continue;
		// node-ical keeps RDATE as unparsed text and never expands it.
		const rd = [].concat(v.rdate ?? []);
		rdates[v.uid] = rd.reduce((n, r) => n + String(r.val ?? r).split(',').length, 0);
		const insts = nodeical.expandRecurringEvent(v, {
			from: new Date(from), to: new Date(to), includeOverrides: true,
			excludeExdates: true, expandOngoing: true,
		});
		if (insts.length > MAX)
			throw new Error('more than ' + MAX + ' occurrences of ' + v.uid);
		for (const i of insts) {
			const src = i.event ?? v;
			const rid = src.recurrenceid;
			occurrences.push([iso(i.start), iso(i.end), v.uid, src.status ?? null,
				rid ? iso(new Date(rid)) : null]);
		}
	}
	return { method, occurrences, rdates };
}

// Whatever a library prints while reading one calendar is kept with its result.
let warnings = [];
for (const k of ['log', 'info', 'warn', 'error', 'debug', 'trace'])
	console[k] = (...a) => warnings.push(a.map(String).join(' '));

function attempt(fn, ...args) {
	warnings = [];
	let r;
	try {
		r = fn(...args);
	} catch (e) {
		r = { error: String(e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e) };
	}
	r.warnings = warnings;
	return r;
}

let input = '';
for await (const chunk of process.stdin)
	input += chunk;
const out = {};
for (const s of JSON.parse(input)) {
	out[s.name] = {
		icaljs: attempt(icaljs, s.icaljs, s.from, s.to),
		nodeical: attempt(nodeIcal, s.nodeical, s.from, s.to),
	};
}
process.stdout.write(JSON.stringify(out) + '\n');
