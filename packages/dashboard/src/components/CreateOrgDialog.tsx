import { type FormEvent, useId, useState } from 'react';
import { post } from '../api';
import { useAction } from '../hooks';
import { navigate } from '../router';
import { useSession } from '../session';
import type { OrgRef } from '@latchkey/contract';
import { ErrorAlert } from './Alert';
import { Button } from './Button';
import { Dialog } from './Dialog';
import { TextField } from './Field';
import { useToast } from './Toast';

export function CreateOrgDialog({ onClose }: { onClose: () => void }) {
  const { refresh } = useSession();
  const toast = useToast();
  const [name, setName] = useState('');
  const [slug, setSlug] = useState('');
  const formId = useId();
  const action = useAction(async () => {
    const org = await post<OrgRef>(
      '/api/v1/orgs',
      { name: name.trim(), ...(slug.trim() ? { slug: slug.trim() } : {}) },
      { org: null },
    );
    await refresh(org.id);
    toast(`Created ${org.name}. You are its owner.`);
    navigate('/members');
  });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (await action.run()) onClose();
  };
  return (
    <Dialog
      title="New organisation"
      onClose={onClose}
      locked={action.busy}
      footer={
        <>
          <Button onClick={onClose} disabled={action.busy}>
            Cancel
          </Button>
          <Button type="submit" form={formId} variant="primary" busy={action.busy}>
            {action.busy ? 'Creating…' : 'Create organisation'}
          </Button>
        </>
      }
    >
      <form id={formId} onSubmit={submit}>
        <TextField
          label="Name"
          required
          maxLength={100}
          value={name}
          onChange={(e) => setName(e.target.value)}
          data-autofocus
        />
        <TextField
          label="Slug (optional)"
          hint="Lowercase letters, digits and dashes; used in URLs and in the x-org-id header. Made from the name when empty."
          maxLength={40}
          pattern="[a-z0-9][a-z0-9\-]*"
          value={slug}
          onChange={(e) => setSlug(e.target.value)}
        />
        <ErrorAlert error={action.error} />
      </form>
    </Dialog>
  );
}
