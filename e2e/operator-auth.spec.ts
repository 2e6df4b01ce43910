import { expect, test } from '@playwright/test';
import { api, OPERATOR_TOKEN, withCoordinator } from './coordinator.ts';
import { operatorHandshake } from './operator-socket.ts';

const TASK = {
  id: 'mnist-auth',
  model: { kind: 'mlp', hidden: [8] },
  dataset: { name: 'mnist', partition: { kind: 'iid' }, numShards: 10, seed: 1 },
  rounds: { cohortSize: 1, minReports: 1, minClients: 1, overSelection: 1, deadlineMs: 30_000, maxRounds: 2 },
};

test('a wrong or missing operator token sees no dashboard data and controls nothing, over REST and the namespace', async ({
  page,
}) => {
  await withCoordinator({ task: TASK }, async (coordinator) => {
    const url = coordinator.url;
    const status = async (): Promise<string> =>
      (await api<{ status: string }>(url, `/api/tasks/${TASK.id}`)).status;

    // REST: no token and a wrong one are both refused, for reading and for control.
    const refused: Record<string, string>[] = [{}, { authorization: 'Bearer not-the-operator-token' }];
    for (const headers of refused) {
      expect((await fetch(`${url}/api/tasks/${TASK.id}/rounds`, { headers })).status).toBe(401);
      expect((await fetch(`${url}/metrics`, { headers })).status).toBe(401);
      for (const action of ['pause', 'stop']) {
        const res = await fetch(`${url}/api/tasks/${TASK.id}/${action}`, { method: 'POST', headers });
        expect(res.status).toBe(401);
        expect(await res.json()).toMatchObject({ ok: false, code: 'UNAUTHORIZED' });
      }
    }
    expect(await status()).toBe('running');

    // The namespace: refused at connect, and a control message sent anyway is never answered.
    await page.goto(`${url}/healthz`);
    const control = { taskId: TASK.id, action: 'pause' };
    for (const token of [undefined, 'not-the-operator-token', `${OPERATOR_TOKEN}-and-more`]) {
      const frames = await page.evaluate(operatorHandshake, { url, token, control });
      expect(frames.some((f) => f.startsWith('44/operator,') && f.includes('UNAUTHORIZED'))).toBe(true);
      expect(frames.some((f) => f.startsWith('40/operator,') || f.startsWith('43/operator,'))).toBe(false);
    }
    expect(await status()).toBe('running');
    // The right token is let in and its control message is acknowledged.
    const frames = await page.evaluate(operatorHandshake, { url, token: OPERATOR_TOKEN, control });
    expect(frames.some((f) => f.startsWith('40/operator,'))).toBe(true);
    expect(frames.find((f) => f.startsWith('43/operator,7'))).toContain('"status":"paused"');
    expect(await status()).toBe('paused');

    // The dashboard without a token: a sign-in form and nothing else.
    await page.goto(`${url}/dashboard?task=${TASK.id}`);
    await expect(page.locator('body')).toHaveAttribute('data-auth', 'required');
    await expect(page.locator('#login')).toBeVisible();
    await expect(page.locator('#rounds tr')).toHaveCount(0);
    for (const tile of ['#tile-status', '#tile-version', '#tile-connected', '#tile-heldout']) {
      await expect(page.locator(tile)).toHaveText('-');
    }
    await expect(page.locator('#pause')).toBeDisabled();
    await expect(page.locator('#resume')).toBeDisabled();
    await page.screenshot({ path: test.info().outputPath('dashboard-signed-out.png'), fullPage: true });
  });
});
