import { type Static, Type } from '@sinclair/typebox';
import { PollenError } from '../errors.ts';
import type { InputSpec, TargetSpec } from './schema.ts';

/**
 * How a contributor's page presents a task and turns what the visitor enters into examples
 * (docs/tasks.md). The page is chosen by this kind, never by the task's id.
 */

/** A drawing canvas: the drawing is resampled to width x height grey levels, row-major. */
export const ImagePresentationSchema = Type.Object(
  {
    kind: Type.Literal('image'),
    width: Type.Integer({ minimum: 1, maximum: 1024 }),
    height: Type.Integer({ minimum: 1, maximum: 1024 }),
  },
  { additionalProperties: false, description: 'A drawing canvas of width x height pixels' },
);

/**
 * A text box: typed text becomes next-character examples. Character ids: the alphabet's
 * characters are 1..alphabet.length in order, 0 stands for any other character and for the
 * padding before the text starts; the vocabulary is alphabet.length + 1 ids.
 */
export const NextCharPresentationSchema = Type.Object(
  {
    kind: Type.Literal('next-char'),
    alphabet: Type.String({
      minLength: 1,
      maxLength: 1024,
      description: 'The known characters, in id order from 1; 0 is any other character',
    }),
    context: Type.Integer({
      minimum: 1,
      maximum: 1024,
      description: 'Characters of context each prediction sees (input.shape [context])',
    }),
    lowercase: Type.Optional(Type.Boolean({ description: 'Lower-case text before encoding (default true)' })),
  },
  { additionalProperties: false },
);

/** How a message becomes a fixed-size feature vector. */
export const TextFeaturesSchema = Type.Object(
  {
    kind: Type.Literal('hashed-bow'),
    dims: Type.Integer({
      minimum: 1,
      maximum: 1 << 20,
      description: 'Buckets: each token counts in FNV-1a(token) mod dims',
    }),
    weighting: Type.Optional(
      Type.Union([Type.Literal('log1p'), Type.Literal('tf')], {
        description: 'log(1 + count), or count / tokens in the message (default log1p)',
      }),
    ),
  },
  { additionalProperties: false, description: 'A hashed bag of words' },
);
export type TextFeatures = Static<typeof TextFeaturesSchema>;

/** A box to paste a message and label it; the message's features come from `features`. */
export const TextLabelPresentationSchema = Type.Object(
  {
    kind: Type.Literal('text-label'),
    labels: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
      minItems: 2,
      maxItems: 100,
      description: 'Label names by class id',
    }),
    features: TextFeaturesSchema,
  },
  { additionalProperties: false },
);

/** No input widget: the host site provides the data. */
export const NonePresentationSchema = Type.Object(
  { kind: Type.Literal('none') },
  { additionalProperties: false, description: 'The host site provides the data' },
);

export const PresentationSchema = Type.Union(
  [ImagePresentationSchema, NextCharPresentationSchema, TextLabelPresentationSchema, NonePresentationSchema],
  { description: "How the contributor's page presents the task (docs/tasks.md)" },
);
export type Presentation = Static<typeof PresentationSchema>;
export type PresentationKind = Presentation['kind'];
export type ImagePresentation = Static<typeof ImagePresentationSchema>;
export type NextCharPresentation = Static<typeof NextCharPresentationSchema>;
export type TextLabelPresentation = Static<typeof TextLabelPresentationSchema>;
export const PRESENTATION_KINDS: readonly PresentationKind[] = ['image', 'next-char', 'text-label', 'none'];

/** The ids a next-char presentation's characters take: the alphabet plus 0 for the others. */
export function nextCharVocabSize(p: NextCharPresentation): number {
  return [...p.alphabet].length + 1;
}

function refuse(message: string): never {
  throw new PollenError('INVALID_TASK', message);
}

/**
 * Presentation rules that JSON Schema cannot say: what the page builds must be an example of
 * this task (the canvas's pixels are the input, the alphabet is the vocabulary, the features
 * fill the input and the labels are the classes).
 */
export function checkPresentation(p: Presentation, input: InputSpec, target: TargetSpec): void {
  const size = input.shape.reduce((a, b) => a * b, 1);
  const shape = `[${input.shape.join(', ')}]`;
  switch (p.kind) {
    case 'image':
      if (p.width * p.height !== size) {
        refuse(
          `"presentation" image ${p.width}x${p.height} is ${p.width * p.height} pixels, "input.shape" ${shape} holds ${size} values`,
        );
      }
      return;
    case 'next-char': {
      const chars = [...p.alphabet];
      const dup = chars.find((c, i) => chars.indexOf(c) !== i);
      if (dup !== undefined) refuse(`"presentation.alphabet" lists ${JSON.stringify(dup)} twice`);
      if (input.shape.length !== 1 || input.shape[0] !== p.context) {
        refuse(`"presentation.context" ${p.context} must equal "input.shape" [context], got ${shape}`);
      }
      if (input.dtype === 'float32')
        refuse('"input.dtype" of a next-char task holds character ids: int32 or uint8');
      const vocab = chars.length + 1;
      if (input.dtype === 'uint8' && vocab > 256) {
        refuse(`"presentation.alphabet" has ${vocab} ids with 0, more than uint8 input holds`);
      }
      const classes =
        target.kind === 'class' ? target.numClasses : target.kind === 'sequence' ? target.vocabSize : -1;
      if (classes === -1)
        refuse(`"presentation" next-char needs a class or sequence target, got ${target.kind}`);
      if (classes !== vocab) {
        refuse(
          `"presentation.alphabet" makes ${vocab} character ids (its ${chars.length} characters and 0 for any other), the target has ${classes}`,
        );
      }
      return;
    }
    case 'text-label':
      if (target.kind !== 'class')
        refuse(`"presentation" text-label needs a class target, got ${target.kind}`);
      if (p.labels.length !== target.numClasses) {
        refuse(
          `"presentation.labels" names ${p.labels.length} labels, the target has ${target.numClasses} classes`,
        );
      }
      if (new Set(p.labels).size !== p.labels.length) refuse('"presentation.labels" lists a label twice');
      if (input.dtype !== 'float32' || size !== p.features.dims) {
        refuse(
          `"presentation.features.dims" ${p.features.dims} must equal the float32 values of "input.shape" ${shape}`,
        );
      }
      return;
    case 'none':
      return;
  }
}

/**
 * The presentation of a task: the one it declares, else a 28x28 canvas for the built-in MNIST
 * digits, else none (the host site provides the data).
 */
export function presentationOf(spec: {
  readonly presentation?: Presentation;
  readonly data?: { readonly builtin: string };
}): Presentation {
  if (spec.presentation) return spec.presentation;
  if (spec.data?.builtin === 'mnist') return { kind: 'image', width: 28, height: 28 };
  return { kind: 'none' };
}
