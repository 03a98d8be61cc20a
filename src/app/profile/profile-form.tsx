"use client";

import { TRPCClientError } from "@trpc/client";
import { useEffect, useMemo, useState } from "react";

import { interestLimits, interestsSchema, parseInterests } from "~/lib/interests";
import type { User } from "~/server/db/schema";
import { api } from "~/trpc/react";
import { avatarImageTypes, fieldErrorsFromZod, profileInputSchema, profileLimits, useUserSync, type ProfileFieldError } from "~/user-sync/client";

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

  function edit(field: keyof FormValues, value: string) {
    setValues((v) => ({ ...v, [field]: value }));
    setErrors((e) => ({ ...e, [field]: undefined }));
  }

  function pickAvatar(file: File | undefined) {
    setErrors((e) => ({ ...e, avatar: undefined }));
    if (!file) return setAvatarFile(null);
    if (!(avatarImageTypes as readonly string[]).includes(file.type)) {
      setAvatarFile(null);
      return setErrors((e) => ({ ...e, avatar: "Choose a PNG, JPEG, WebP or GIF image." }));
    }
    if (file.size > profileLimits.avatarMaxBytes) {
      setAvatarFile(null);
      return setErrors((e) => ({ ...e, avatar: "Choose an image of at most 2 MiB." }));
    }
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
      setNotice("Nothing to save.");
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
      <p className="field-error" id={`${field}-error`} role="alert" data-testid={`error-${field}`}>
        {errors[field]}
      </p>
    ) : null;
  const inputProps = (field: Field) => ({
    id: field,
    name: field,
    "aria-invalid": errors[field] ? true : undefined,
    "aria-describedby": errors[field] ? `${field}-error` : undefined,
  });

  return (
    <>
      <section className="profile-card" data-testid="profile-card" data-pending={saving ? "true" : "false"} aria-busy={saving}>
        {/* eslint-disable-next-line @next/next/no-img-element -- Clerk's image host differs per instance and emulator. */}
        {shown.imageUrl && <img src={shown.imageUrl} alt="" width={64} height={64} data-testid="profile-card-avatar" />}
        <div>
          <strong data-testid="profile-card-name">{[shown.firstName, shown.lastName].filter(Boolean).join(" ") || "—"}</strong>
          <div data-testid="profile-card-username">{shown.username ? `@${shown.username}` : "no username"}</div>
          <div data-testid="profile-card-interests">{shown.interests.join(", ") || "no interests yet"}</div>
        </div>
      </section>

      <form className="profile-form" onSubmit={(event) => void save(event)} noValidate>
        <label htmlFor="firstName">First name</label>
        <input {...inputProps("firstName")} value={values.firstName} maxLength={profileLimits.nameMaxLength} onChange={(e) => edit("firstName", e.target.value)} />
        {errorFor("firstName")}

        <label htmlFor="lastName">Last name</label>
        <input {...inputProps("lastName")} value={values.lastName} maxLength={profileLimits.nameMaxLength} onChange={(e) => edit("lastName", e.target.value)} />
        {errorFor("lastName")}

        <label htmlFor="username">Username</label>
        <input {...inputProps("username")} value={values.username} autoComplete="username" onChange={(e) => edit("username", e.target.value)} />
        <p className="hint">
          {profileLimits.usernameMinLength}–{profileLimits.usernameMaxLength} letters, numbers, _ or -.
        </p>
        {errorFor("username")}

        <label htmlFor="interests">Interests</label>
        <input {...inputProps("interests")} value={values.interests} placeholder="climbing, jazz, rust" onChange={(e) => edit("interests", e.target.value)} />
        <p className="hint">
          Up to {interestLimits.maxTags}, separated by commas, {interestLimits.maxTagLength} characters each. Kept in this app only.
        </p>
        {errorFor("interests")}

        <label htmlFor="avatar">Avatar</label>
        <input
          key={fileInputKey}
          {...inputProps("avatar")}
          type="file"
          accept={avatarImageTypes.join(",")}
          onChange={(e) => pickAvatar(e.target.files?.[0])}
        />
        {/* eslint-disable-next-line @next/next/no-img-element -- a local object URL. */}
        {previewUrl && <img src={previewUrl} alt="New avatar preview" width={96} height={96} data-testid="avatar-preview" />}
        <p className="hint">PNG, JPEG, WebP or GIF, at most 2 MiB.</p>
        {errorFor("avatar")}

        {formError && (
          <p className="form-error" role="alert" data-testid="profile-error">
            {formError}
          </p>
        )}
        {notice && (
          <p role="status" data-testid="profile-notice">
            {notice}
          </p>
        )}
        <button type="submit" disabled={saving}>
          {saving ? "Saving…" : "Save"}
        </button>
      </form>
    </>
  );
}
