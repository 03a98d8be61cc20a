"use client";

import { TRPCClientError } from "@trpc/client";
import { useEffect, useMemo, useState } from "react";

import { interestLimits, interestsSchema, parseInterests } from "~/lib/interests";
import type { User } from "~/server/db/schema";
import { api } from "~/trpc/react";
import { avatarImageTypes, fieldErrorsFromZod, profileInputSchema, profileLimits, useUserSync, type ProfileFieldError } from "clerk-user-sync/client";

type NameField = "firstName" | "lastName" | "username";
type Field = NameField | "interests" | "avatar";

/** What the profile card shows: the server's last answer, or the values being saved. */
type Shown = { firstName: string | null; lastName: string | null; username: string | null; imageUrl: string | null; interests: string[] };

type FormValues = Record<NameField, string> & { interests: string };

const nameFields: NameField[] = ["firstName", "lastName", "username"];

function shownFrom(user: User): Shown {
  return { firstName: user.firstName, lastName: user.lastName, username: user.username, imageUrl: user.imageUrl, interests: user.interests };
}

function valuesFrom(shown: Shown): FormValues {
  return { firstName: shown.firstName ?? "", lastName: shown.lastName ?? "", username: shown.username ?? "", interests: shown.interests.join(", ") };
}

const orNull = (value: string) => (value.trim() === "" ? null : value.trim());
const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((value, i) => value === b[i]);

/** The first message for each field; errors for the form as a whole are shown apart. */
function messagesByField(errors: ProfileFieldError[]): Partial<Record<Field, string>> {
  const messages: Partial<Record<Field, string>> = {};
  for (const error of errors) {
    const field = error.field as Field | null;
    if (field !== null && messages[field] === undefined) messages[field] = error.message;
  }
  return messages;
}

/** A failed save, as the form shows it: errors on fields, or one message for the form. */
function failureOf(error: unknown, fallbackField: Field | null): { fieldErrors: ProfileFieldError[]; formError: string | null } {
  if (!(error instanceof TRPCClientError)) return { fieldErrors: [], formError: "Something went wrong; try again." };
  const data = error.data as { code?: string; fieldErrors?: ProfileFieldError[] | null; retryAfterSeconds?: number | null } | undefined;
  if (data?.code === "TOO_MANY_REQUESTS") {
    const seconds = data.retryAfterSeconds;
    return { fieldErrors: [], formError: `Too many changes in a short time. Try again in ${seconds ?? "a few"} second${seconds === 1 ? "" : "s"}.` };
  }
  const fieldErrors = (data?.fieldErrors ?? []).map((e) => ({ ...e, field: e.field ?? fallbackField }));
  const unplaced = fieldErrors.filter((e) => e.field === null);
  if (fieldErrors.length > 0 && unplaced.length === 0) return { fieldErrors, formError: null };
  return { fieldErrors: fieldErrors.filter((e) => e.field !== null), formError: unplaced[0]?.message ?? error.message };
}

/** The signed-in user's profile: identity fields (saved in Clerk first), avatar and interests. */
export function ProfileForm() {
  const { status, user, error } = useUserSync<User>();
  if (!user) {
    if (status === "error") return <p role="alert">{error?.message ?? "Your profile could not be loaded."}</p>;
    return <p data-testid="profile-loading">Loading your profile…</p>;
  }
  return <ProfileEditor key={user.id} user={user} />;
}

function ProfileEditor({ user }: { user: User }) {
  const utils = api.useUtils();
  const { resync, acceptUser } = useUserSync<User>();
  const [confirmed, setConfirmed] = useState<Shown>(() => shownFrom(user));
  const [optimistic, setOptimistic] = useState<Shown | null>(null);
  const [values, setValues] = useState<FormValues>(() => valuesFrom(shownFrom(user)));
  const [avatarFile, setAvatarFile] = useState<File | null>(null);
  const [fileInputKey, setFileInputKey] = useState(0);
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const saving = optimistic !== null;
  const shown = optimistic ?? confirmed;

  const previewUrl = useMemo(() => (avatarFile ? URL.createObjectURL(avatarFile) : null), [avatarFile]);
  useEffect(() => () => void (previewUrl && URL.revokeObjectURL(previewUrl)), [previewUrl]);
  // The preview shows once the browser has drawn it, so a file it cannot read never shows as a broken image.
  const [drawnPreviewUrl, setDrawnPreviewUrl] = useState<string | null>(null);

  // A "Saved." or "Nothing to save." speaks of the form as it was: any change makes it untrue.
  function edit(field: keyof FormValues, value: string) {
    setValues((v) => ({ ...v, [field]: value }));
    setErrors((e) => ({ ...e, [field]: undefined }));
    setNotice(null);
  }

  function refuseAvatar(message: string) {
    setAvatarFile(null);
    // A fresh input: the refused file is not left selected beside the error.
    setFileInputKey((k) => k + 1);
    setErrors((e) => ({ ...e, avatar: message }));
  }

  function pickAvatar(file: File | undefined) {
    setErrors((e) => ({ ...e, avatar: undefined }));
    setNotice(null);
    setFormError(null);
    if (!file) return setAvatarFile(null);
    if (!(avatarImageTypes as readonly string[]).includes(file.type)) return refuseAvatar("Choose a PNG, JPEG, WebP or GIF image.");
    if (file.size > profileLimits.avatarMaxBytes) return refuseAvatar("Choose an image of at most 2 MiB.");
    setAvatarFile(file);
  }

  async function save(event: React.FormEvent) {
    event.preventDefault();
    setFormError(null);
    setNotice(null);

    // Validated here with the server's own rules first, so most mistakes never leave the browser.
    const problems: ProfileFieldError[] = [];
    const changes: Partial<Record<NameField, string>> = {};
    for (const field of nameFields) if (orNull(values[field]) !== confirmed[field]) changes[field] = values[field];
    const hasNameChanges = Object.keys(changes).length > 0;
    if (hasNameChanges) {
      const parsed = profileInputSchema().safeParse(changes);
      if (!parsed.success) problems.push(...fieldErrorsFromZod(parsed.error));
    }
    const parsedInterests = interestsSchema.safeParse(parseInterests(values.interests));
    if (!parsedInterests.success) problems.push(...fieldErrorsFromZod(parsedInterests.error).map((e) => ({ ...e, field: "interests" })));
    if (problems.length > 0) {
      setErrors(messagesByField(problems));
      setFormError(problems.find((p) => p.field === null)?.message ?? null);
      return;
    }
    const interests = parsedInterests.data ?? confirmed.interests;
    const interestsChanged = !sameList(interests, confirmed.interests);
    if (!hasNameChanges && !interestsChanged && !avatarFile) {
      // A refused file still shows its error: that, not "Nothing to save.", is what the form says.
      if (!errors.avatar) setNotice("Nothing to save.");
      return;
    }

    setErrors({});
    setOptimistic({
      ...confirmed,
      ...Object.fromEntries(Object.entries(changes).map(([field, value]) => [field, orNull(value)])),
      interests,
      imageUrl: previewUrl ?? confirmed.imageUrl,
    });

    // One after another, so the last row answered holds every change that reached the database.
    let next = confirmed;
    let latestRow: User | null = null;
    let mirrorPending = false;
    const fieldErrors: ProfileFieldError[] = [];
    const formErrors: string[] = [];
    const failed = (error: unknown, fallbackField: Field | null) => {
      const failure = failureOf(error, fallbackField);
      fieldErrors.push(...failure.fieldErrors);
      if (failure.formError) formErrors.push(failure.formError);
    };

    if (hasNameChanges) {
      try {
        const answer = await utils.client.user.updateProfile.mutate(changes);
        // Clerk's confirmed values, whatever the mirror did.
        next = { ...next, firstName: answer.profile.firstName, lastName: answer.profile.lastName, username: answer.profile.username };
        if (answer.user) latestRow = answer.user;
        if (answer.mirror === "pending") mirrorPending = true;
      } catch (error) {
        failed(error, null);
      }
    }
    if (avatarFile) {
      try {
        const answer = await utils.client.user.updateAvatar.mutate(avatarFile);
        next = { ...next, imageUrl: answer.profile.imageUrl };
        if (answer.user) latestRow = answer.user;
        if (answer.mirror === "pending") mirrorPending = true;
        setAvatarFile(null);
        setFileInputKey((k) => k + 1);
      } catch (error) {
        failed(error, "avatar");
      }
    }
    if (interestsChanged) {
      try {
        latestRow = await utils.client.profile.updateInterests.mutate({ interests });
        next = { ...next, interests: latestRow.interests };
      } catch (error) {
        failed(error, "interests");
      }
    }

    // Reconcile: the card shows what the server answered; failed fields keep what was typed.
    setConfirmed(next);
    setOptimistic(null);
    const failedFields = new Set(fieldErrors.map((e) => e.field));
    setValues((typed) => {
      const fresh = valuesFrom(next);
      return {
        firstName: failedFields.has("firstName") || formErrors.length > 0 ? typed.firstName : fresh.firstName,
        lastName: failedFields.has("lastName") || formErrors.length > 0 ? typed.lastName : fresh.lastName,
        username: failedFields.has("username") || formErrors.length > 0 ? typed.username : fresh.username,
        interests: failedFields.has("interests") ? typed.interests : fresh.interests,
      };
    });
    setErrors(messagesByField(fieldErrors));
    setFormError(formErrors[0] ?? null);
    if (latestRow) {
      // The dashboard shows the new values now, not when a webhook or the next sync arrives.
      acceptUser(latestRow);
      utils.user.me.setData(undefined, latestRow);
    }
    if (mirrorPending) {
      setNotice("Saved in Clerk. The app's copy of your profile will catch up in a moment.");
      resync();
    } else if (fieldErrors.length === 0 && formErrors.length === 0) {
      setNotice("Saved.");
    }
  }

  const errorFor = (field: Field) =>
    errors[field] ? (
      <p className="text-sm text-red-700" id={`${field}-error`} role="alert" data-testid={`error-${field}`}>
        {errors[field]}
      </p>
    ) : null;
  const inputProps = (field: Field) => ({
    id: field,
    name: field,
    className:
      "rounded-lg border border-slate-300 bg-white px-3 py-2 text-slate-900 shadow-xs focus:border-indigo-500 focus:outline-2 focus:outline-indigo-200 aria-[invalid=true]:border-red-500",
    "aria-invalid": errors[field] ? true : undefined,
    "aria-describedby": errors[field] ? `${field}-error` : `${field}-hint`,
  });
  const label = "mt-4 text-sm font-medium text-slate-800 first:mt-0";
  const hint = "text-xs text-slate-500";
  const name = [shown.firstName, shown.lastName].filter(Boolean).join(" ");

  return (
    <div className="space-y-6">
      <section
        className="card flex items-center gap-5 transition-opacity data-[pending=true]:opacity-60"
        data-testid="profile-card"
        data-pending={saving ? "true" : "false"}
        aria-busy={saving}
        aria-label="Your profile as others see it"
      >
        {shown.imageUrl ? (
          // Clerk serves avatars from its own hosts (or a local preview): a plain <img>.
          // eslint-disable-next-line @next/next/no-img-element
          <img src={shown.imageUrl} alt="" width={64} height={64} className="size-16 rounded-full bg-slate-100 object-cover shadow" data-testid="profile-card-avatar" />
        ) : (
          <span aria-hidden className="grid size-16 place-items-center rounded-full bg-indigo-100 text-xl font-semibold text-indigo-700">
            {name.slice(0, 1) || "?"}
          </span>
        )}
        <div className="min-w-0">
          <p className="text-xl font-semibold text-slate-900" data-testid="profile-card-name">
            {name || "—"}
          </p>
          <p className="text-slate-600" data-testid="profile-card-username">
            {shown.username ? `@${shown.username}` : "no username"}
          </p>
          <p className="text-sm text-slate-500" data-testid="profile-card-interests">
            {shown.interests.join(", ") || "no interests yet"}
          </p>
        </div>
      </section>

      <form className="card grid max-w-xl gap-1.5" onSubmit={(event) => void save(event)} noValidate>
        <label className={label} htmlFor="firstName">
          First name
        </label>
        <input {...inputProps("firstName")} value={values.firstName} maxLength={profileLimits.nameMaxLength} autoComplete="given-name" onChange={(e) => edit("firstName", e.target.value)} />
        {errorFor("firstName")}

        <label className={label} htmlFor="lastName">
          Last name
        </label>
        <input {...inputProps("lastName")} value={values.lastName} maxLength={profileLimits.nameMaxLength} autoComplete="family-name" onChange={(e) => edit("lastName", e.target.value)} />
        {errorFor("lastName")}

        <label className={label} htmlFor="username">
          Username
        </label>
        <input {...inputProps("username")} value={values.username} autoComplete="username" onChange={(e) => edit("username", e.target.value)} />
        <p className={hint} id="username-hint">
          {profileLimits.usernameMinLength}–{profileLimits.usernameMaxLength} letters, numbers, _ or -. Saved in Clerk.
        </p>
        {errorFor("username")}

        <label className={label} htmlFor="interests">
          Interests
        </label>
        <input {...inputProps("interests")} value={values.interests} placeholder="climbing, jazz, rust" onChange={(e) => edit("interests", e.target.value)} />
        <p className={hint} id="interests-hint">
          Up to {interestLimits.maxTags}, separated by commas, {interestLimits.maxTagLength} characters each. Kept in this app only.
        </p>
        {errorFor("interests")}

        <label className={label} htmlFor="avatar">
          Avatar
        </label>
        <div className="flex items-center gap-4">
          <input
            key={fileInputKey}
            {...inputProps("avatar")}
            className="text-sm text-slate-700 file:mr-3 file:rounded-lg file:border file:border-slate-300 file:bg-white file:px-3 file:py-1.5 file:text-sm file:font-medium"
            type="file"
            accept={avatarImageTypes.join(",")}
            onChange={(e) => pickAvatar(e.target.files?.[0])}
          />
          {previewUrl && (
            // A local object URL of the picked file.
            // eslint-disable-next-line @next/next/no-img-element
            <img
              src={previewUrl}
              alt="New avatar preview"
              width={64}
              height={64}
              className={`size-16 rounded-full object-cover shadow ${drawnPreviewUrl === previewUrl ? "" : "invisible"}`}
              data-testid="avatar-preview"
              data-drawn={drawnPreviewUrl === previewUrl ? "true" : "false"}
              onLoad={() => setDrawnPreviewUrl(previewUrl)}
              // Named like an image but not one the browser can draw (a renamed text file): refused here, no broken preview.
              onError={() => refuseAvatar("This file is not a PNG, JPEG, WebP or GIF image the browser can read. Choose another.")}
            />
          )}
        </div>
        <p className={hint} id="avatar-hint">
          PNG, JPEG, WebP or GIF, at most 2 MiB.
        </p>
        {errorFor("avatar")}

        {formError && (
          <p className="mt-4 rounded-lg bg-red-50 px-3 py-2 text-sm text-red-800" role="alert" data-testid="profile-error">
            {formError}
          </p>
        )}
        {notice && (
          <p className="mt-4 rounded-lg bg-emerald-50 px-3 py-2 text-sm text-emerald-800" role="status" data-testid="profile-notice">
            {notice}
          </p>
        )}
        <button type="submit" className="btn btn-primary mt-6 justify-self-start" disabled={saving}>
          {saving ? "Saving…" : "Save"}
        </button>
      </form>
    </div>
  );
}
