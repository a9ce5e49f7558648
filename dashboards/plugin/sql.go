package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/apiwatch/apiwatch/storage"
)

// MaxSQLRows bounds what a sql query returns; the frame says when it cut.
const MaxSQLRows = 100_000

// SQL formats.
const (
	FormatTable      = "table"
	FormatTimeSeries = "time_series"
)

func sqlFrames(ctx context.Context, st *storage.Store, q Query, dq backend.DataQuery) (data.Frames, error) {
	switch q.Format {
	case "", FormatTable, FormatTimeSeries:
	default:
		return nil, badQuery("sql: format %q: want table or time_series", q.Format)
	}
	text, err := ExpandMacros(q.RawSQL, st.Database(), dq.TimeRange, dq.Interval)
	if err != nil {
		return nil, err
	}
	if err := ReadOnly(text); err != nil {
		return nil, err
	}
	// The server enforces it too: readonly=1 refuses writes, DDL, SET
	// and table functions (file, url, remote, …) whatever the text says.
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"readonly": 1}))
	// Cancelled when the result is cut: closing the rows alone would
	// read the rest of it.
	ctx, cancel := context.WithCancel(ctx)
	rows, err := st.Conn().Query(ctx, text)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	defer func() {
		cancel()
		rows.Close()
	}()
	types := rows.ColumnTypes()
	fields := make([]*data.Field, len(types))
	convs := make([]func(reflect.Value) any, len(types))
	dest := make([]any, len(types))
	for i, ct := range types {
		ft, conv := converter(ct.ScanType())
		fields[i] = data.NewFieldFromFieldType(ft, 0)
		fields[i].Name = ct.Name()
		convs[i] = conv
		dest[i] = reflect.New(ct.ScanType()).Interface()
	}
	fr := data.NewFrame("sql", fields...)
	fr.Meta = &data.FrameMeta{ExecutedQueryString: text, PreferredVisualization: data.VisTypeTable}
	n := 0
	for rows.Next() {
		if n == MaxSQLRows {
			fr.AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning,
				Text: fmt.Sprintf("the result was cut at %d rows: add a LIMIT or aggregate", MaxSQLRows)})
			break
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("clickhouse: %w", err)
		}
		for i, d := range dest {
			fields[i].Append(convs[i](reflect.ValueOf(d).Elem()))
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	if q.Format == FormatTimeSeries {
		return timeSeries(fr)
	}
	return data.Frames{fr}, nil
}

// timeSeries turns a sql result into a wide time series: a long one (a
// time column, value columns and string label columns, sorted by time) is
// widened, one already wide is marked so.
func timeSeries(fr *data.Frame) (data.Frames, error) {
	if len(fr.TypeIndices(data.FieldTypeTime, data.FieldTypeNullableTime)) == 0 {
		return nil, badQuery("sql: format time_series needs a time column (a Date or DateTime)")
	}
	meta := fr.Meta
	if fr.TimeSeriesSchema().Type == data.TimeSeriesTypeLong {
		wide, err := data.LongToWide(fr, nil)
		if err != nil {
			return nil, badQuery("sql: format time_series: %v (ORDER BY the time column)", err)
		}
		fr = wide
	}
	fr.Meta = meta
	fr.Meta.Type, fr.Meta.TypeVersion = data.FrameTypeTimeSeriesWide, data.FrameTypeVersion{0, 1}
	fr.Meta.PreferredVisualization = data.VisTypeGraph
	return data.Frames{fr}, nil
}

var (
	stringer   = reflect.TypeFor[fmt.Stringer]()
	inexactF64 = reflect.TypeFor[interface{ InexactFloat64() float64 }]()
)

// converter says how a value ClickHouse scans into type t goes into a
// frame: as it is when frames hold that type (numbers, strings, bools,
// times, and pointers to them for Nullable), decimals as float64, other
// values with a String method (UUID, IP, big integers) as strings,
// arrays, maps and tuples as JSON.
func converter(t reflect.Type) (data.FieldType, func(reflect.Value) any) {
	if ft := data.FieldTypeFor(reflect.Zero(t).Interface()); ft != data.FieldTypeUnknown && ft != data.FieldTypeEnum && ft != data.FieldTypeNullableEnum {
		return ft, reflect.Value.Interface
	}
	if t.Kind() == reflect.Pointer {
		// Nullable(T): nil, or a pointer to T as converted.
		ft, conv := converter(t.Elem())
		if !ft.Nullable() {
			ft = ft.NullableType()
		}
		return ft, func(v reflect.Value) any {
			if v.IsNil() {
				return nil
			}
			x := conv(v.Elem())
			if rv := reflect.ValueOf(x); rv.Kind() != reflect.Pointer {
				p := reflect.New(rv.Type())
				p.Elem().Set(rv)
				return p.Interface()
			}
			return x
		}
	}
	switch {
	case t.Implements(inexactF64):
		return data.FieldTypeFloat64, func(v reflect.Value) any {
			return v.Interface().(interface{ InexactFloat64() float64 }).InexactFloat64()
		}
	case t.Implements(stringer):
		return data.FieldTypeString, func(v reflect.Value) any { return v.Interface().(fmt.Stringer).String() }
	case reflect.PointerTo(t).Implements(stringer):
		return data.FieldTypeString, func(v reflect.Value) any {
			p := reflect.New(t)
			p.Elem().Set(v)
			return p.Interface().(fmt.Stringer).String()
		}
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map || t.Kind() == reflect.Struct || t.Kind() == reflect.Interface:
		return data.FieldTypeJSON, func(v reflect.Value) any {
			b, err := json.Marshal(v.Interface())
			if err != nil {
				b, _ = json.Marshal(fmt.Sprint(v.Interface()))
			}
			return json.RawMessage(b)
		}
	}
	return data.FieldTypeString, func(v reflect.Value) any { return fmt.Sprint(v.Interface()) }
}

// macro is $__name or $__name(argument).
var macro = regexp.MustCompile(`\$__(\w+)(?:\(([^()]*)\))?`)

// ExpandMacros replaces the time macros of a sql query:
//
//	$__timeFilter(col)   col >= toDateTime(from) AND col < toDateTime(to)
//	$__fromTime          toDateTime(from)
//	$__toTime            toDateTime(to)
//	$__interval_s        the panel's interval in seconds (at least 1)
//	$__timeInterval(col) col rounded down to the interval
//	$__table(name)       the table in apiwatch's database: `db`.name
//	$__database          apiwatch's database: `db`
//
// from is rounded down and to up to the second. An unknown macro is an
// error.
func ExpandMacros(sql, db string, tr backend.TimeRange, interval time.Duration) (string, error) {
	from := strconv.FormatInt(max(tr.From.Unix(), 0), 10)
	toUnix := tr.To.Unix()
	if !tr.To.Truncate(time.Second).Equal(tr.To) {
		toUnix++
	}
	to := strconv.FormatInt(max(toUnix, 0), 10)
	step := strconv.FormatInt(max(int64(interval/time.Second), 1), 10)
	var bad error
	out := macro.ReplaceAllStringFunc(sql, func(m string) string {
		sub := macro.FindStringSubmatch(m)
		name, arg, hasArg := sub[1], strings.TrimSpace(sub[2]), strings.HasSuffix(m, ")")
		needArg := func() bool {
			if arg == "" {
				bad = badQuery("sql: $__%s needs an argument: $__%s(column)", name, name)
				return false
			}
			return true
		}
		switch name {
		case "timeFilter":
			if !needArg() {
				return m
			}
			return "(" + arg + " >= toDateTime(" + from + ") AND " + arg + " < toDateTime(" + to + "))"
		case "timeInterval":
			if !needArg() {
				return m
			}
			return "toDateTime(intDiv(toUInt32(" + arg + "), " + step + ") * " + step + ")"
		case "table":
			if !needArg() {
				return m
			}
			if !validName(arg) {
				bad = badQuery("sql: $__table(%s): a table name is letters, digits and _", arg)
				return m
			}
			return "`" + db + "`." + arg
		}
		if hasArg {
			// $__fromTime(x) is no macro call: expand the name only.
			m = m[:len("$__")+len(name)]
		}
		rest := strings.TrimPrefix(sub[0], m)
		switch name {
		case "fromTime":
			return "toDateTime(" + from + ")" + rest
		case "toTime":
			return "toDateTime(" + to + ")" + rest
		case "interval_s":
			return step + rest
		case "database":
			return "`" + db + "`" + rest
		}
		bad = badQuery("sql: unknown macro $__%s: want $__timeFilter(col), $__fromTime, $__toTime, $__interval_s, $__timeInterval(col), $__table(name) or $__database", name)
		return sub[0]
	})
	return out, bad
}

func validName(s string) bool {
	for _, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

// ReadOnly accepts one SELECT (or WITH … SELECT) statement and refuses
// anything else, with a message that says so. Comments and a trailing
// semicolon are allowed; a second statement is not.
func ReadOnly(sql string) error {
	toks, err := words(sql)
	if err != nil {
		return badQuery("sql: %v", err)
	}
	if len(toks) == 0 {
		return badQuery("sql: no query: write a SELECT")
	}
	first := strings.ToUpper(toks[0])
	if first != "SELECT" && first != "WITH" {
		return badQuery("sql: only SELECT queries run here (read-only), not %s", first)
	}
	return nil
}

// words returns the keywords and identifiers of sql outside string
// literals, quoted names and comments, and fails on a statement after a
// semicolon.
func words(sql string) ([]string, error) {
	var out []string
	semicolon := false
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '-' && strings.HasPrefix(sql[i:], "--"), c == '#':
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				return out, nil
			}
			i += j + 1
			continue
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				return nil, fmt.Errorf("a /* comment is not closed")
			}
			i += j + 4
			continue
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		}
		if semicolon {
			return nil, fmt.Errorf("one statement only: there is more after the ;")
		}
		switch {
		case c == ';':
			semicolon = true
			i++
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for ; j < len(sql) && sql[j] != c; j++ {
				if sql[j] == '\\' {
					j++
				}
			}
			if j >= len(sql) {
				return nil, fmt.Errorf("a %c quote is not closed", c)
			}
			i = j + 1
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(sql) && (sql[j] == '_' || sql[j] >= 'a' && sql[j] <= 'z' || sql[j] >= 'A' && sql[j] <= 'Z' || sql[j] >= '0' && sql[j] <= '9') {
				j++
			}
			out = append(out, sql[i:j])
			i = j
		default:
			i++
		}
	}
	return out, nil
}
