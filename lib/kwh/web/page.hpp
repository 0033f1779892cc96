#pragma once
// The HTML of `kwh serve`: the tenant's page, the "Continue" page of a login link, receipts,
// short messages (errors and notices) and the one stylesheet they all link to.
//
// Every page is served under a strict Content-Security-Policy (default-src 'none';
// style-src 'self'; img-src 'self' data:), so nothing here writes a <script>, a <style>
// element, a style="" attribute or an event handler attribute: all styling is in
// stylesheet(), served at /static/kwh.css. Everything that comes from data is escaped, and
// every form carries the session's (or the link's) csrf token in a hidden field.

#include <kwh/web/view.hpp>

#include <string>
#include <string_view>

namespace kwh::web {

// Text made safe for HTML content and quoted attribute values: & < > " ' become entities.
std::string html_escape(std::string_view text);

// The tenant's page: balance and days left, status, buying credit, the reminder level, the
// 30-day chart, meters and their supply, purchases with links to their receipts, the tariff,
// and signing out. One column, readable on a phone and on a desktop.
std::string render_tenant_page(const TenantView& v);

// What GET /l/TOKEN shows: the link signs the tenant in only when they press Continue, which
// POSTs to action_path with the hidden csrf field.
std::string render_continue_page(std::string_view action_path, std::string_view csrf);

// A small page for errors and notices (a used link, not signed in, not found, too many
// requests). Each line of `text` is a paragraph.
std::string render_message_page(std::string_view title, std::string_view text);

// A receipt (kwh's 42-column plain text) for `account`, with a link back to the tenant's page.
std::string render_receipt_page(std::string_view account, std::string_view receipt_text);

// The CSS served at /static/kwh.css.
std::string_view stylesheet();

} // namespace kwh::web
