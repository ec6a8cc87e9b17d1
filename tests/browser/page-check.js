/* Appended to a copy of a joulebench results page by tests/test_page.c and run in headless
 * Chromium: records what a reader would see (script errors, plot sizes, visible rows) after
 * sorting and filtering through the page's own controls, as JSON in a pre element with the id jb-test-result. */
(function () {
	var out = {errors: (window.jbErrors || []).slice()};
	try {
		var table = document.getElementById('results'), tb = table.tBodies[0];
		var heads = [].slice.call(table.tHead.rows[0].cells);
		var col = function (name) {
			for (var i = 0; i < heads.length; i++)
				if (heads[i].textContent.indexOf(name) === 0) return i;
			return -1;
		};
		var visible = function () {
			return [].filter.call(tb.rows, function (r) { return !r.hidden && r.offsetHeight > 0; });
		};
		var values = function (c) {
			return visible().map(function (r) { return r.cells[c].getAttribute('data-v'); });
		};
		out.svgs = [].map.call(document.querySelectorAll('figure svg'), function (s) {
			var b = s.getBoundingClientRect();
			return [b.width, b.height];
		});
		out.rows = visible().length;
		var dc = col('decode tok/s');
		out.original = values(dc);
		heads[dc].click();
		out.asc = values(dc);
		heads[dc].click();
		out.desc = values(dc);
		var q = document.getElementById('filter');
		q.value = 'machine-03';
		q.dispatchEvent(new Event('input'));
		out.filtered_hosts = visible().map(function (r) { return r.cells[0].textContent; });
		q.value = '';
		q.dispatchEvent(new Event('input'));
		var k = document.getElementById('kind');
		k.value = 'ESTIMATED';
		k.dispatchEvent(new Event('change'));
		out.estimated_kinds = visible().map(function (r) { return r.getAttribute('data-kind'); });
		out.count_text = document.getElementById('count').textContent;
		k.value = '';
		k.dispatchEvent(new Event('change'));
		out.rows_after = visible().length;
	} catch (e) {
		out.errors.push('check script: ' + e.message);
	}
	var pre = document.createElement('pre');
	pre.id = 'jb-test-result';
	pre.textContent = JSON.stringify(out);
	document.body.appendChild(pre);
})();
