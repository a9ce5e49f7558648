// Types for checking apiwatch's dashboards (JSON) against @grafana/schema
// with tsc. dashboards/schema_test.go writes gen/<board>.ts files that
// assign each board, and each of its panels, to these types; tsc --strict
// --noEmit fails on any property of the wrong type, any required property
// missing, and (object literals being checked for excess properties) any
// property the schema does not know.
import type { Panel } from '@grafana/schema';

/**
 * Wire is T as JSON carries it. @grafana/schema declares some values as
 * TypeScript string enums (FieldColorModeId, ThresholdsMode, MappingType,
 * …), which a JSON string literal cannot be assigned to; on the wire they
 * are their string values, so Wire replaces every string enum by the union
 * of its values (`${E}`) and keeps everything else as it is, recursively.
 */
export type Wire<T> =
  T extends string ? `${T}` :
  T extends number | boolean | bigint | null | undefined ? T :
  T extends ReadonlyArray<infer U> ? Array<Wire<U>> :
  T extends object ? { [K in keyof T]: Wire<T[K]> } :
  T;

/**
 * PanelOf is a panel of a panel plugin whose options are O and whose
 * fieldConfig.defaults.custom is F (the plugin's panelcfg types in
 * @grafana/schema/dist/types/raw/composable/<plugin>/panelcfg).
 */
export type PanelOf<O, F = Record<string, unknown>> = Wire<Omit<Panel<O, F>, 'options'> & { options: O }>;
