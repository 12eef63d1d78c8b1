// How large an image may be: checked against headers before any pixel buffer is allocated (sharp, DICOM).

/** Pixels (× samples for colour DICOM) of one decoded image: 100 MP, far above any radiograph. */
export const MAX_INPUT_PIXELS = 100_000_000;
