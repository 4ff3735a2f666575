/**
 * Fills a <select> with the inputs of one kind and keeps `selected` on the device in use.
 * Devices without a label (before capture was allowed) get a numbered name.
 */
export function renderDeviceOptions(select: HTMLSelectElement, devices: MediaDeviceInfo[], selected: string | undefined, noun: string): void {
  select.replaceChildren(
    ...devices.map((d, i) => {
      const option = document.createElement('option');
      option.value = d.deviceId;
      option.textContent = d.label || `${noun} ${i + 1}`;
      option.selected = d.deviceId === selected;
      return option;
    }),
  );
  select.disabled = devices.length === 0;
}
