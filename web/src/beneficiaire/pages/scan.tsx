/* scan.tsx - the partner's QR code read inside the app with the browser's
 * BarcodeDetector (Chrome on Android has it; elsewhere the phone's own
 * camera opens the /payer/<code> link, or the code is typed). */
import { useState } from 'preact/hooks';
import { useCameraScan } from '../../shared/camera';
import { Notice } from '../../shared/ui';
import { T } from '../strings.fr';

/** The partner code in what a QR code holds: a `/payer/<code>` address of
 * this site, or the bare 8 digits. */
export function codeFromScan(text: string): string | null {
  const bare = text.replace(/[\s-]/g, '');
  if (/^\d{8}$/.test(bare)) return bare;
  try {
    const url = new URL(text);
    const match = /^\/payer\/(\d{8})$/.exec(url.pathname);
    return match ? match[1]! : null;
  } catch {
    return null;
  }
}

export function Scanner(props: { onCode: (code: string) => void; onStop: () => void }) {
  const [problem, setProblem] = useState('');
  const video = useCameraScan({
    pick: codeFromScan,
    found: props.onCode,
    unknown: () => setProblem(T.pay.scanUnknown),
    refused: () => setProblem(T.pay.scanFailed),
  });
  return (
    <div class="scanner">
      <p id="scan-help">{T.pay.scanHelp}</p>
      <video ref={video} class="scan-video" muted playsInline aria-describedby="scan-help" />
      {problem && <Notice kind="error" role="alert">{problem}</Notice>}
      <div class="button-row">
        <button type="button" class="button button-secondary" onClick={props.onStop}>
          {T.pay.scanStop}
        </button>
      </div>
    </div>
  );
}
