/*
 * apiwatch data source: the frontend module Grafana loads for the plugin.
 *
 * Hand-written, no build step: an AMD module (what Grafana's plugin loader
 * reads, as from a webpack build) over the packages Grafana shares with its
 * plugins (react, @grafana/data, @grafana/runtime). It registers a
 * DataSourceWithBackend, so every query goes to the Go backend; a plain
 * JSON query editor (query type + the query's fields, README.md); a
 * connection form; and template variables interpolated before queries
 * leave the browser.
 */
define(['react', '@grafana/data', '@grafana/runtime'], function (React, grafanaData, grafanaRuntime) {
  'use strict';

  var h = React.createElement;
  var QUERY_TYPES = ['findings', 'finding', 'inventory', 'top_actors', 'rates', 'login_outcomes', 'annotations', 'sql'];
  // Filter fields: multi-value variables become comma-separated values.
  var LIST_FIELDS = ['detector', 'severity', 'endpoint', 'actor', 'status'];
  // Fields Grafana owns; the editor leaves them alone.
  var GRAFANA_FIELDS = ['refId', 'datasource', 'hide', 'key', 'queryType'];

  class DataSource extends grafanaRuntime.DataSourceWithBackend {
    constructor(instanceSettings) {
      super(instanceSettings);
      // Annotations are queries of type "annotations" (the backend
      // returns time, timeEnd, title, text and tags).
      this.annotations = {};
    }

    getDefaultQuery() {
      return { queryType: 'findings' };
    }

    applyTemplateVariables(query, scopedVars) {
      var srv = grafanaRuntime.getTemplateSrv();
      var out = Object.assign({}, query);
      LIST_FIELDS.forEach(function (k) {
        if (typeof out[k] === 'string') {
          out[k] = srv.replace(out[k], scopedVars, 'csv');
        } else if (Array.isArray(out[k])) {
          out[k] = out[k].reduce(function (acc, v) {
            return acc.concat(String(srv.replace(String(v), scopedVars, 'csv')).split(','));
          }, []);
        }
      });
      if (typeof out.findingId === 'string') {
        out.findingId = srv.replace(out.findingId, scopedVars);
      }
      if (typeof out.rawSql === 'string') {
        out.rawSql = srv.replace(out.rawSql, scopedVars, 'sqlstring');
      }
      return out;
    }
  }

  function fieldsText(query) {
    var rest = {};
    Object.keys(query || {}).forEach(function (k) {
      if (GRAFANA_FIELDS.indexOf(k) < 0) {
        rest[k] = query[k];
      }
    });
    return JSON.stringify(rest, null, 2);
  }

  function QueryEditor(props) {
    var query = props.query || {};
    var queryType = query.queryType || 'findings';
    var textState = React.useState(fieldsText(query));
    var errorState = React.useState('');
    var text = textState[0], setText = textState[1];
    var error = errorState[0], setError = errorState[1];

    function apply(nextType, nextText) {
      var fields;
      try {
        fields = nextText.trim() === '' ? {} : JSON.parse(nextText);
      } catch (e) {
        setError('not JSON: ' + e.message);
        return;
      }
      if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) {
        setError('want a JSON object of the query fields, e.g. {"detector": "enumeration"}');
        return;
      }
      setError('');
      var next = Object.assign({}, fields);
      GRAFANA_FIELDS.forEach(function (k) {
        if (query[k] !== undefined) {
          next[k] = query[k];
        }
      });
      next.queryType = nextType;
      props.onChange(next);
      if (props.onRunQuery) {
        props.onRunQuery();
      }
    }

    return h('div', { style: { display: 'flex', flexDirection: 'column', gap: '4px', width: '100%' } },
      h('label', null, 'Query type ',
        h('select', { value: queryType, onChange: function (e) { apply(e.target.value, text); } },
          QUERY_TYPES.map(function (t) { return h('option', { key: t, value: t }, t); }))),
      h('textarea', {
        value: text, rows: 6, spellCheck: false,
        style: { fontFamily: 'monospace', width: '100%' },
        onChange: function (e) { setText(e.target.value); },
        onBlur: function () { apply(queryType, text); },
      }),
      error ? h('div', { style: { color: '#e02f44' } }, error) : null);
  }

  function ConfigEditor(props) {
    var options = props.options;
    var jsonData = options.jsonData || {};
    var secureFields = options.secureJsonFields || {};
    var secureData = options.secureJsonData || {};

    function change(patch) {
      props.onOptionsChange(Object.assign({}, options, patch));
    }
    function setJSON(k, v) {
      var next = Object.assign({}, jsonData);
      next[k] = v;
      change({ jsonData: next });
    }
    function setSecret(k, v) {
      var next = Object.assign({}, secureData);
      next[k] = v;
      change({ secureJsonData: next });
    }
    function resetSecret(k) {
      var fields = Object.assign({}, secureFields);
      var data = Object.assign({}, secureData);
      fields[k] = false;
      data[k] = '';
      change({ secureJsonFields: fields, secureJsonData: data });
    }
    function row(label, input) {
      return h('div', { style: { display: 'flex', gap: '8px', margin: '4px 0', alignItems: 'center' } },
        h('label', { style: { width: '180px' } }, label), input);
    }
    function text(label, k, placeholder) {
      return row(label, h('input', {
        type: 'text', value: jsonData[k] === undefined ? '' : String(jsonData[k]), placeholder: placeholder,
        onChange: function (e) { setJSON(k, e.target.value); },
      }));
    }
    function port() {
      return row('Port', h('input', {
        type: 'number', value: jsonData.port === undefined ? '' : jsonData.port, placeholder: '9000 (9440 with TLS)',
        onChange: function (e) { setJSON('port', e.target.value === '' ? undefined : Number(e.target.value)); },
      }));
    }
    function check(label, k) {
      return row(label, h('input', {
        type: 'checkbox', checked: !!jsonData[k],
        onChange: function (e) { setJSON(k, e.target.checked); },
      }));
    }
    function secret(label, k, multiline) {
      if (secureFields[k]) {
        return row(label, h('span', null, 'configured ',
          h('button', { type: 'button', onClick: function () { resetSecret(k); } }, 'Reset')));
      }
      var input = multiline
        ? h('textarea', { rows: 4, value: secureData[k] || '', placeholder: '-----BEGIN CERTIFICATE-----', onChange: function (e) { setSecret(k, e.target.value); } })
        : h('input', { type: 'password', autoComplete: 'new-password', value: secureData[k] || '', onChange: function (e) { setSecret(k, e.target.value); } });
      return row(label, input);
    }

    return h('div', null,
      text('Host', 'host', 'clickhouse.example.com'),
      port(),
      text('Database', 'database', 'apiwatch'),
      text('User', 'user', 'default'),
      secret('Password', 'password', false),
      check('TLS', 'tls'),
      check('Skip TLS verification', 'tlsSkipVerify'),
      secret('CA certificate (PEM)', 'tlsCACert', true));
  }

  var plugin = new grafanaData.DataSourcePlugin(DataSource)
    .setConfigEditor(ConfigEditor)
    .setQueryEditor(QueryEditor);

  return { plugin: plugin, DataSource: DataSource, QueryEditor: QueryEditor, ConfigEditor: ConfigEditor };
});
