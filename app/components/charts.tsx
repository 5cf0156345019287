import { useI18n } from "~/i18n/use-i18n";

/**
 * Charts drawn on the server as SVG: no script, no inline style (the CSP allows neither), colours from app.css.
 * Every number is also text: each bar has a <title>, and a visually hidden table carries the figures for screen
 * readers and for anyone who would rather read than look.
 */

export interface Bar {
  key: string;
  /** The axis label, short. */
  label: string;
  /** The full description of the bar, for its title and the table. */
  description?: string;
  value: number;
  /** Where a click on the bar goes (a narrower view). */
  href?: string;
  /** A second figure drawn over the first, e.g. how many of them are overdue. */
  highlight?: number;
}

/** Columns over time (or any ordered axis); a label under every nth column so labels never overlap. */
export function ColumnChart({
  bars,
  title,
  valueLabel,
  id,
  captionHidden = false,
  width = 720,
}: {
  bars: Bar[];
  title: string;
  valueLabel: string;
  id: string;
  /** When a heading above already says it. */
  captionHidden?: boolean;
  /** The drawing's own width: narrower for a dashboard panel, so the text stays readable when it is scaled down. */
  width?: number;
}) {
  const { number } = useI18n();
  const height = 200;
  const left = 36;
  const bottom = 28;
  const top = 12;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const step = bars.length ? (width - left) / bars.length : 0;
  const barWidth = Math.max(1, step * 0.8);
  const labelEvery = Math.max(1, Math.ceil(bars.length / Math.max(4, Math.floor(width / 72))));
  const y = (v: number) => top + (height - top - bottom) * (1 - v / max);
  return (
    <figure className="chart" aria-labelledby={`${id}-title`}>
      <figcaption id={`${id}-title`} className={captionHidden ? "visually-hidden" : undefined}>
        {title}
      </figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} className="chart-svg" role="group" aria-labelledby={`${id}-title`} focusable="false">
        <line x1={left} x2={width} y1={height - bottom} y2={height - bottom} className="chart-axis" />
        <text x={left - 4} y={y(max) + 4} textAnchor="end" className="chart-tick" aria-hidden="true">
          {number(max)}
        </text>
        <text x={left - 4} y={height - bottom} textAnchor="end" className="chart-tick" aria-hidden="true">
          0
        </text>
        {bars.map((b, i) => {
          const x = left + i * step + (step - barWidth) / 2;
          const rect = (
            <>
              <title>{`${b.description ?? b.label}: ${number(b.value)}`}</title>
              <rect x={x} y={y(b.value)} width={barWidth} height={height - bottom - y(b.value)} className={b.value ? "chart-bar" : "chart-bar empty"} />
              {/* A bar of nothing still takes a click: a sliver the whole height, invisible. */}
              <rect x={left + i * step} y={top} width={step} height={height - bottom - top} className="chart-hit" />
            </>
          );
          return (
            <g key={b.key}>
              {b.href ? (
                <a href={b.href} aria-label={`${b.description ?? b.label}: ${number(b.value)}`}>
                  {rect}
                </a>
              ) : (
                rect
              )}
              {i % labelEvery === 0 ? (
                <text x={x + barWidth / 2} y={height - bottom + 16} textAnchor="middle" className="chart-tick" aria-hidden="true">
                  {b.label}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
      <FiguresTable bars={bars} caption={title} valueLabel={valueLabel} />
    </figure>
  );
}

/** Horizontal bars for categories (steps, statuses), the figure written beside each bar. */
export function BarList({ bars, title, valueLabel, highlightLabel, id, captionHidden = false, width = 720 }: { bars: Bar[]; title: string; valueLabel: string; highlightLabel?: string; id: string; captionHidden?: boolean; width?: number }) {
  const { number } = useI18n();
  // A narrow chart (a dashboard card a third of the page wide) draws in fewer units, so its text stays readable when scaled.
  const narrow = width < 600;
  const rowHeight = 26;
  const labelWidth = narrow ? Math.round(width * 0.52) : 230;
  const valueWidth = narrow ? 40 : 110;
  const height = Math.max(rowHeight, bars.length * rowHeight);
  const max = Math.max(1, ...bars.map((b) => b.value));
  const scale = (v: number) => ((width - labelWidth - valueWidth) * v) / max;
  return (
    <figure className="chart" aria-labelledby={`${id}-title`}>
      <figcaption id={`${id}-title`} className={captionHidden ? "visually-hidden" : undefined}>
        {title}
      </figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} className="chart-svg" role="group" aria-labelledby={`${id}-title`} focusable="false">
        {bars.map((b, i) => {
          const yTop = i * rowHeight + 4;
          const figure = b.highlight ? `${number(b.value)} (${highlightLabel ?? ""} ${number(b.highlight)})` : number(b.value);
          const body = (
            <>
              <title>{`${b.description ?? b.label}: ${figure}`}</title>
              <text x={labelWidth - 8} y={yTop + 14} textAnchor="end" className="chart-label">
                {b.label}
              </text>
              <rect x={labelWidth} y={yTop} width={Math.max(b.value ? 2 : 0, scale(b.value))} height={rowHeight - 8} className="chart-bar" />
              {b.highlight ? <rect x={labelWidth} y={yTop} width={Math.max(2, scale(b.highlight))} height={rowHeight - 8} className="chart-bar warn" /> : null}
              <text x={labelWidth + scale(b.value) + 6} y={yTop + 14} className="chart-value">
                {figure}
              </text>
            </>
          );
          return <g key={b.key}>{b.href ? <a href={b.href}>{body}</a> : body}</g>;
        })}
      </svg>
      <FiguresTable bars={bars} caption={title} valueLabel={valueLabel} highlightLabel={highlightLabel} />
    </figure>
  );
}

function FiguresTable({ bars, caption, valueLabel, highlightLabel }: { bars: Bar[]; caption: string; valueLabel: string; highlightLabel?: string }) {
  const { number } = useI18n();
  // A list rather than a table: the page's own tables stay the only tables (and their headers the only headers).
  return (
    <ul className="visually-hidden" aria-label={caption}>
      {bars.map((b) => (
        <li key={b.key}>
          {b.description ?? b.label}: {valueLabel} {number(b.value)}
          {highlightLabel !== undefined && b.highlight !== undefined ? `, ${highlightLabel} ${number(b.highlight)}` : ""}
        </li>
      ))}
    </ul>
  );
}

/** A progress bar as SVG with its figure as text beside it. */
export function ProgressLine({ done, total, label }: { done: number; total: number; label: string }) {
  const { number } = useI18n();
  const share = total ? done / total : 0;
  return (
    <p className="progress-line">
      <svg viewBox="0 0 200 12" className="chart-progress" aria-hidden="true" focusable="false">
        <rect x={0} y={0} width={200} height={12} className="chart-track" />
        <rect x={0} y={0} width={200 * share} height={12} className="chart-bar" />
      </svg>{" "}
      <span>
        {label}: {number(done)} / {number(total)}
      </span>
    </p>
  );
}
