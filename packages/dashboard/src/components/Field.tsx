import {
  type InputHTMLAttributes,
  type ReactNode,
  type SelectHTMLAttributes,
  type TextareaHTMLAttributes,
  useId,
} from 'react';

interface Common {
  label: ReactNode;
  hint?: ReactNode;
}

function Hint({ id, hint }: { id: string; hint?: ReactNode }) {
  return hint ? (
    <p id={id} className="hint">
      {hint}
    </p>
  ) : null;
}

export function TextField({ label, hint, ...rest }: Common & InputHTMLAttributes<HTMLInputElement>) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} aria-describedby={hint ? `${id}-hint` : undefined} {...rest} />
      <Hint id={`${id}-hint`} hint={hint} />
    </div>
  );
}

export function TextArea({ label, hint, ...rest }: Common & TextareaHTMLAttributes<HTMLTextAreaElement>) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <textarea id={id} aria-describedby={hint ? `${id}-hint` : undefined} {...rest} />
      <Hint id={`${id}-hint`} hint={hint} />
    </div>
  );
}

export function SelectField({
  label,
  hint,
  children,
  ...rest
}: Common & SelectHTMLAttributes<HTMLSelectElement>) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} aria-describedby={hint ? `${id}-hint` : undefined} {...rest}>
        {children}
      </select>
      <Hint id={`${id}-hint`} hint={hint} />
    </div>
  );
}

/** A group of checkboxes (scopes) with a legend. */
export function CheckboxGroup({
  legend,
  hint,
  options,
  value,
  onChange,
}: {
  legend: string;
  hint?: ReactNode;
  options: readonly { value: string; label?: ReactNode; note?: ReactNode }[];
  value: readonly string[];
  onChange: (next: string[]) => void;
}) {
  const id = useId();
  const toggle = (v: string, on: boolean) => onChange(on ? [...value, v] : value.filter((x) => x !== v));
  return (
    <fieldset className="field checkbox-group" aria-describedby={hint ? `${id}-hint` : undefined}>
      <legend>{legend}</legend>
      <Hint id={`${id}-hint`} hint={hint} />
      <div className="checkbox-grid">
        {options.map((o) => (
          <label key={o.value} className="checkbox">
            <input
              type="checkbox"
              checked={value.includes(o.value)}
              onChange={(e) => toggle(o.value, e.target.checked)}
            />
            <span>
              {o.label ?? <code>{o.value}</code>}
              {o.note && <span className="muted small"> {o.note}</span>}
            </span>
          </label>
        ))}
      </div>
    </fieldset>
  );
}
