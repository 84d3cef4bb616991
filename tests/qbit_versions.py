"""What changed in qBittorrent's API after 4.5.2 (the captures), read from its source.

Sources: qBittorrent release tarballs 4.5.2 and 5.1.0 (WebAPI 2.11.4), 4.6.x from the closest
stored versions, the WebAPI changelog and qbittorrent-api's per-endpoint version records.
These are facts about qBittorrent, kept apart from Debridge's code so tests check one against
the other.
"""

from __future__ import annotations

PREFERENCES_ADDED = {
    "4.6.7": {
        "add_to_top_of_queue", "bdecode_depth_limit", "bdecode_token_limit",
        "current_interface_name", "file_log_age", "file_log_age_type",
        "file_log_backup_enabled", "file_log_delete_old", "file_log_enabled",
        "file_log_max_size", "file_log_path", "i2p_address", "i2p_enabled",
        "i2p_inbound_length", "i2p_inbound_quantity", "i2p_mixed_mode", "i2p_outbound_length",
        "i2p_outbound_quantity", "i2p_port", "max_inactive_seeding_time",
        "max_inactive_seeding_time_enabled", "merge_trackers", "proxy_bittorrent",
        "proxy_misc", "proxy_rss", "socket_receive_buffer_size", "socket_send_buffer_size",
        "torrent_file_size_limit", "use_subcategories",
    },
}
PREFERENCES_ADDED["5.1.4"] = PREFERENCES_ADDED["4.6.7"] | {
    "add_stopped_enabled", "add_trackers_from_url_enabled", "add_trackers_url",
    "add_trackers_url_list", "announce_port", "app_instance_name", "confirm_torrent_deletion",
    "confirm_torrent_recheck", "delete_torrent_content_files", "dht_bootstrap_nodes",
    "ignore_ssl_errors", "mark_of_the_web", "python_executable_path", "rss_fetch_delay",
    "save_statistics_interval", "ssl_enabled", "ssl_listen_port", "status_bar_external_ip",
    "torrent_content_remove_option", "use_unwanted_folder",
}
PREFERENCES_REMOVED = {"4.6.7": {"proxy_torrents_only"},
                       "5.1.4": {"proxy_torrents_only", "start_paused_enabled"}}
PREFERENCES_RETYPED = {"proxy_type": "str"}         # an int until 4.5, a string from 4.6
PREFERENCES_COUNT = {"4.6.7": 202, "5.1.4": 221}

INFO_ADDED = {
    "4.6.7": {"max_inactive_seeding_time", "inactive_seeding_time_limit"},
    "5.1.4": {"max_inactive_seeding_time", "inactive_seeding_time_limit", "popularity",
              "root_path", "reannounce", "comment", "private", "has_metadata"},
}
PROPERTIES_ADDED = {"4.6.7": set(), "5.1.4": {"has_metadata", "popularity", "private",
                                              "progress"}}
SERVER_STATE_ADDED = {"4.6.7": {"use_subcategories"},
                      "5.1.4": {"use_subcategories", "last_external_address_v4",
                                "last_external_address_v6"}}
TRANSFER_ADDED = {"4.6.7": set(),
                  "5.1.4": {"last_external_address_v4", "last_external_address_v6"}}
BUILD_INFO_ADDED = {"4.6.7": set(), "5.1.4": {"platform"}}
VERSIONS = {"4.6.7": ("v4.6.7", "2.9.3"), "5.1.4": ("v5.1.4", "2.11.4")}
NEVER = {"4.6.7": 0, "5.1.4": -1}           # completion_on / seen_complete before it happens
COOKIE = {"4.6.7": "HttpOnly; path=/; SameSite=Strict",
          "5.1.4": "HttpOnly; SameSite=Strict; path=/"}
PAUSE_ENDPOINTS = {"4.6.7": ("pause", "resume"), "5.1.4": ("stop", "start")}
DOUBLES = {"ratio", "progress", "availability", "max_ratio", "ratio_limit", "share_ratio",
           "popularity"}
