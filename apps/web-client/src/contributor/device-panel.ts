import type { PollenClient } from '../sdk/index.ts';
import { CONDITION_TEXT } from '../sdk/index.ts';

/**
 * The contributor page's view of the device's side of training: whether it may train now and,
 * when not, which of the task's conditions holds it back (docs/tasks.md, "Eligibility"), and
 * the CPU share training uses, which the visitor can lower below the task's cap.
 */
export function showDevicePanel(
  client: PollenClient,
  elements: { eligibility: HTMLElement; share: HTMLInputElement; shareText: HTMLElement },
): void {
  const { eligibility, share, shareText } = elements;
  client.on('eligibility', (verdict) => {
    document.body.dataset.eligible = String(verdict.eligible);
    document.body.dataset.blockedBy = verdict.blockedBy.join(' ');
    eligibility.textContent = verdict.eligible
      ? 'yes: this device meets the task’s conditions'
      : `not now: ${verdict.blockedBy.map((c) => CONDITION_TEXT[c]).join('; ')}`;
  });
  const render = (value: number, cap: number): void => {
    const percent = Math.round(value * 100);
    share.max = String(Math.round(cap * 100));
    share.value = String(percent);
    document.body.dataset.cpuShare = String(value);
    shareText.textContent =
      cap < 1
        ? `up to ${percent}% of the time (the task allows at most ${Math.round(cap * 100)}%)`
        : `up to ${percent}% of the time`;
  };
  client.on('cpuShare', ({ share: value, cap }) => render(value, cap));
  share.addEventListener('change', () => client.setCpuShare(Number(share.value) / 100));
  render(client.cpuShare, client.cpuShareCap);
}
