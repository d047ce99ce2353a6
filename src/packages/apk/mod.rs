//! Alpine packages (issue 15, apk half): `.apk` files and apk's installed database.
pub mod apk_file;
pub mod database;
pub mod pkginfo;
