import { redirect } from "next/navigation";

/**
 * Was a copy of the dashboard with no settings of its own. What a user can set (name, username,
 * avatar, interests) is on the profile page; old links and bookmarks land there.
 */
export default function SettingsPage() {
  redirect("/profile");
}
