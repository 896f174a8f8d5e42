-- AlterTable
ALTER TABLE "dead_letters" ADD COLUMN     "kind" TEXT NOT NULL DEFAULT 'poison';
