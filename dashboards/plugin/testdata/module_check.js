// Loads module.js as Grafana's AMD loader would, with small stand-ins for
// react, @grafana/data and @grafana/runtime, and prints what it registered
// as JSON (module_test.go checks it).
'use strict';
const fs = require('fs');
const vm = require('vm');

const calls = [];
class DataSourceWithBackend {
  constructor(settings) { this.instanceSettings = settings; }
}
class DataSourcePlugin {
  constructor(ds) { this.DataSourceClass = ds; this.components = {}; }
  setConfigEditor(c) { this.components.ConfigEditor = c; return this; }
  setQueryEditor(c) { this.components.QueryEditor = c; return this; }
}
const runtime = {
  DataSourceWithBackend,
  getTemplateSrv: () => ({
    replace(v, scopedVars, format) {
      calls.push([v, format || '']);
      return v.replace(/\$(\w+)/g, (m, name) => {
        const vals = { detector: ['enumeration', 'data_exposure'], finding: ['f1'], ep: ['GET h /a'] }[name];
        if (!vals) return m;
        if (format === 'sqlstring') return vals.map((x) => "'" + x.replace(/'/g, "''") + "'").join(',');
        return vals.join(',');
      });
    },
  }),
};
const React = {
  createElement: (type, props, ...children) => ({ type: typeof type === 'string' ? type : type.name, props: props || {}, children }),
  useState: (init) => [init, () => {}],
};

let exported;
const sandbox = {
  define(deps, factory) {
    const mods = { react: React, '@grafana/data': { DataSourcePlugin }, '@grafana/runtime': runtime };
    exported = factory(...deps.map((d) => {
      if (!(d in mods)) throw new Error('unexpected dependency ' + d);
      return mods[d];
    }));
  },
};
vm.createContext(sandbox);
vm.runInContext(fs.readFileSync(process.argv[2], 'utf8'), sandbox, { filename: 'module.js' });

const plugin = exported.plugin;
const ds = new plugin.DataSourceClass({ uid: 'x' });
const q = ds.applyTemplateVariables({
  refId: 'A', queryType: 'findings', detector: '$detector', endpoint: ['$ep', 'GET h /b'], findingId: '$finding',
  rawSql: 'SELECT 1 WHERE detector IN ($detector)', limit: 5,
}, {});

function texts(node, out) {
  if (node && typeof node === 'object') {
    if (node.type) out.push(node.type);
    (node.children || []).flat().forEach((c) => texts(c, out));
  } else if (typeof node === 'string') {
    out.push(node);
  }
  return out;
}
const changed = [];
const editor = plugin.components.QueryEditor({
  query: { refId: 'A', queryType: 'rates', endpoint: 'GET h /a' },
  onChange: (x) => changed.push(x), onRunQuery: () => {},
});
// Blur the textarea with its content: the query goes back unchanged.
const textarea = editor.children.flat().find((c) => c && c.type === 'textarea');
textarea.props.onBlur();
const config = plugin.components.ConfigEditor({
  options: { jsonData: { host: 'h' }, secureJsonFields: { password: true } },
  onOptionsChange: () => {},
});

process.stdout.write(JSON.stringify({
  isPlugin: plugin instanceof DataSourcePlugin,
  extendsBackend: ds instanceof DataSourceWithBackend,
  annotations: typeof ds.annotations,
  defaultQuery: ds.getDefaultQuery(),
  interpolated: q,
  formats: calls,
  textarea: textarea.props.value,
  changed,
  editor: texts(editor, []),
  config: texts(config, []),
}));
