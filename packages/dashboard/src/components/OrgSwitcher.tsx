import { useId, useState } from 'react';
import { useSession } from '../session';
import { CreateOrgDialog } from './CreateOrgDialog';

const NEW = '__new__';

/** Which org the dashboard acts in; every API call names it with x-org-id. */
export function OrgSwitcher() {
  const { me, org, selectOrg } = useSession();
  const [creating, setCreating] = useState(false);
  const id = useId();
  return (
    <div className="org-switcher">
      <label htmlFor={id} className="sr-only">
        Organisation
      </label>
      <select
        id={id}
        value={org?.id ?? ''}
        onChange={(e) => {
          if (e.target.value === NEW) setCreating(true);
          else selectOrg(e.target.value);
        }}
      >
        {!org && <option value="">No organisation</option>}
        {me.orgs.map((o) => (
          <option key={o.id} value={o.id}>
            {o.name} ({o.role})
          </option>
        ))}
        <option value={NEW}>＋ New organisation…</option>
      </select>
      {creating && <CreateOrgDialog onClose={() => setCreating(false)} />}
    </div>
  );
}
