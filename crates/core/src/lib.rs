//! everynode core
